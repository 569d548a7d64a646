//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fsmGit runs git in dir with the test's git environment and returns
// its output.
func fsmGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, _ := progRun(t, dir, progGitEnv(t), "git", args...)
	return out
}

// fsmCheck compares `git status` answered by the hook with git's own
// full scan (which must not write the index, or it would hand the hook
// a fresh start and hide a wrong answer).
func fsmCheck(t *testing.T, wt, what string) {
	t.Helper()
	env := append(progGitEnv(t), "GIT_OPTIONAL_LOCKS=0")
	want, _ := progRun(t, wt, env, "git", "-c", "core.fsmonitor=false", "-c", "core.untrackedCache=false",
		"status", "--porcelain=v1", "--untracked-files=all")
	got := fsmGit(t, wt, "status", "--porcelain=v1", "--untracked-files=all")
	if got != want {
		t.Fatalf("after %s: git status with notifyfs fsmonitor:\n%s\nwithout:\n%s", what, got, want)
	}
}

// fsmTrusted counts the index entries git marks as fsmonitor-valid
// (lower-case tags in ls-files -f): the files it did not have to check.
func fsmTrusted(t *testing.T, wt string) (valid, all int) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSpace(fsmGit(t, wt, "ls-files", "-f")), "\n") {
		all++
		if l != "" && l[0] >= 'a' && l[0] <= 'z' {
			valid++
		}
	}
	return valid, all
}

// TestFsmonitorGit drives real git with `notifyfs fsmonitor` as its
// hook, on a worktree two levels below the mount root, through changes
// made through the mount, underneath it, and while it was unmounted;
// after each one `git status` must be what a full scan says.
func TestFsmonitorGit(t *testing.T) {
	progNeed(t, "git")
	src, mnt := binMount(t)
	rel := filepath.Join("projects", "wt")
	wt, under := filepath.Join(mnt, rel), filepath.Join(src, rel)
	for _, d := range []string{"lib/deep", "doc", "old"} {
		if err := os.MkdirAll(filepath.Join(wt, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"README", "lib/a.go", "lib/deep/b.go", "doc/x.md", "old/y"} {
		if err := os.WriteFile(filepath.Join(wt, f), []byte(f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fsmGit(t, wt, "init", "-q")
	fsmGit(t, wt, "add", ".")
	fsmGit(t, wt, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
	fsmGit(t, wt, "config", "core.fsmonitor", binary+" fsmonitor")
	fsmGit(t, wt, "config", "core.fsmonitorHookVersion", "2")
	fsmGit(t, wt, "config", "core.untrackedCache", "true")
	fsmCheck(t, wt, "enabling the hook") // git's first query: everything
	fsmCheck(t, wt, "nothing")
	if valid, all := fsmTrusted(t, wt); valid != all {
		t.Fatalf("git trusts %d of %d files to the hook after a quiet query; want all", valid, all)
	}

	write := func(p, data string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		what string
		do   func()
	}{
		{"a write through the mount", func() { write(filepath.Join(wt, "lib/deep/b.go"), "changed\n") }},
		{"a new file through the mount", func() { write(filepath.Join(wt, "doc/new.md"), "new\n") }},
		{"a removal through the mount", func() { os.Remove(filepath.Join(wt, "README")) }},
		{"a directory rename through the mount", func() { os.Rename(filepath.Join(wt, "old"), filepath.Join(wt, "older")) }},
		{"a write underneath", func() { write(filepath.Join(under, "lib/a.go"), "underneath\n") }},
		{"a new directory underneath", func() {
			os.MkdirAll(filepath.Join(under, "gen/sub"), 0o755)
			write(filepath.Join(under, "gen/sub/out.txt"), "x\n")
		}},
		{"a chmod underneath", func() { os.Chmod(filepath.Join(under, "doc/x.md"), 0o755) }},
		{"a change outside the worktree", func() { write(filepath.Join(mnt, "projects", "other"), "x\n") }},
		{"a commit", func() {
			fsmGit(t, wt, "add", "-A")
			fsmGit(t, wt, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "more")
		}},
	}
	for _, s := range steps {
		s.do()
		fsmCheck(t, wt, s.what)
	}
	if valid, all := fsmTrusted(t, wt); valid == 0 {
		t.Fatalf("git trusts none of %d files to the hook", all)
	}

	// While no daemon runs, nobody sees SOURCE change; the next daemon's
	// answer to an older run's token must be "everything".
	mustRun(t, "umount", mnt)
	write(filepath.Join(under, "lib/deep/b.go"), "while unmounted\n")
	mustRun(t, "mount", "--journal", filepath.Join(filepath.Dir(src), "journal"), src, mnt)
	fsmCheck(t, wt, "a write while unmounted")
	fsmCheck(t, wt, "nothing after the remount")
}

// TestFsmonitorAnswers checks the hook's answers themselves, from a
// directory below the mount root: a foreign token gets "/", a change
// gets its path relative to the directory, and an unknown version is
// refused so that git falls back to a full scan.
func TestFsmonitorAnswers(t *testing.T) {
	_, mnt := binMount(t)
	wt := filepath.Join(mnt, "w")
	os.MkdirAll(filepath.Join(wt, ".git"), 0o755)
	hook := func(tok string) []string {
		t.Helper()
		r := runIn(t, wt, "fsmonitor", "2", tok)
		if r.code != 0 {
			t.Fatalf("fsmonitor: exit %d: %s", r.code, r.stderr)
		}
		return strings.Split(strings.TrimSuffix(r.stdout, "\x00"), "\x00")
	}
	first := hook("1733520000000000000")
	if len(first) != 2 || first[1] != "/" || !strings.HasPrefix(first[0], "notifyfs:") {
		t.Fatalf("foreign token: got %q, want a token and /", first)
	}
	if got := hook(first[0]); len(got) != 1 {
		t.Fatalf("nothing changed: got %q", got)
	}
	tok := hook(first[0])[0]
	os.WriteFile(filepath.Join(wt, "f"), nil, 0o644)
	os.Mkdir(filepath.Join(wt, "d"), 0o755)
	os.WriteFile(filepath.Join(wt, ".git", "index"), nil, 0o644)
	os.WriteFile(filepath.Join(mnt, "outside"), nil, 0o644)
	if got := strings.Join(hook(tok)[1:], ","); got != "d/,f" {
		t.Fatalf("changes: got %q, want d/,f", got)
	}
	if r := runIn(t, wt, "fsmonitor", "1", tok); r.code != 2 {
		t.Fatalf("version 1: exit %d, want %d", r.code, 2)
	}
}
