//go:build linux

package tests

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// readUntil reads lines from r until one equals last (included), and
// fails the test if r ends first.
func readUntil(t *testing.T, r io.Reader, last string) []string {
	t.Helper()
	var lines []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() == last {
			return lines
		}
	}
	t.Fatalf("output ended before %q; got %q", last, lines)
	return nil
}

// TestWatchLikeInotifywait runs inotifywait and `notifyfs watch` with
// its inotifywait-style template on the same workload through the mount:
// the lines must be the same, but for inotifywait's MOVED_FROM half of a
// rename, which notifyfs carries in the same event (%F).
func TestWatchLikeInotifywait(t *testing.T) {
	progNeed(t, "inotifywait")
	_, mnt := binMount(t)
	dir := filepath.Join(mnt, "w")
	os.MkdirAll(filepath.Join(dir, "d"), 0o755)

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	ino := exec.CommandContext(ctx, "inotifywait", "-m", "-r", "-e", "create,modify,attrib,close_write,moved_from,moved_to,delete",
		"--format", "%w%f %e", dir)
	inoOut, _ := ino.StdoutPipe()
	inoErr, _ := ino.StderrPipe()
	if err := ino.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { ino.Process.Kill(); ino.Wait() }()
	readUntil(t, inoErr, "Watches established.")
	since := strings.TrimSpace(mustRun(t, "sync", mnt))

	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("f1"), []byte("a"), 0o644)
	f, _ := os.OpenFile(p("f1"), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte("b"))
	f.Close()
	os.Chmod(p("f1"), 0o600)
	os.Mkdir(p("d2"), 0o755)
	os.Rename(p("f1"), p("d/f2"))
	os.Remove(p("d/f2"))
	os.Remove(p("d2"))
	os.WriteFile(p("end"), nil, 0o644)
	last := p("end") + " CLOSE_WRITE,CLOSE"

	want := readUntil(t, inoOut, last)
	r := run(t, "watch", "--since", since, "--absolute", "--format", "%w%f %E", "-n", "12", dir)
	if r.code != 0 {
		t.Fatalf("watch: exit %d: %s", r.code, r.stderr)
	}
	got := strings.Split(strings.TrimSpace(r.stdout), "\n")
	var wantNoFrom []string
	for _, l := range want {
		if !strings.HasSuffix(l, " MOVED_FROM") {
			wantNoFrom = append(wantNoFrom, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(wantNoFrom, "\n") {
		t.Fatalf("notifyfs watch:\n%s\ninotifywait (MOVED_FROM left out):\n%s", strings.Join(got, "\n"), strings.Join(wantNoFrom, "\n"))
	}
}

// TestWatchOutputs checks the other output forms and the filters that
// come from the path and --exclude.
func TestWatchOutputs(t *testing.T) {
	_, mnt := binMount(t)
	since := strings.TrimSpace(mustRun(t, "sync", mnt))
	for _, d := range []string{"p/.git/objects", "p/src/.git", "q"} {
		os.MkdirAll(filepath.Join(mnt, d), 0o755)
	}
	os.WriteFile(filepath.Join(mnt, "p/.git/objects/o"), nil, 0o644)
	os.WriteFile(filepath.Join(mnt, "p/src/a,b.go"), nil, 0o644)
	os.WriteFile(filepath.Join(mnt, "q/x"), nil, 0o644)

	watch := func(dir string, args ...string) string {
		t.Helper()
		r := runIn(t, dir, append([]string{"watch", "--since", since, "--type", "create", "--timeout", "10s"}, args...)...)
		if r.code != 0 {
			t.Fatalf("watch %v: exit %d: %s", args, r.code, r.stderr)
		}
		return r.stdout
	}
	// From a directory inside the mount: its events only; .git anywhere
	// excluded.
	if got := watch(filepath.Join(mnt, "p"), "-n", "1", "--exclude", ".git", "--format", "{{.Path}}", "."); got != "p/src/a,b.go\n" {
		t.Errorf("watch . in p --exclude .git: got %q", got)
	}
	if got := watch(mnt, "-n", "1", "--csv", "--absolute", "p/src"); !strings.Contains(got, `,create,"`+mnt+`/p/src/a,b.go",,mount,`) {
		t.Errorf("--csv --absolute: got %q", got)
	}
	if got := watch(mnt, "-n", "1", "-0", "q"); got != "q/x\x00" {
		t.Errorf("-0: got %q", got)
	}
	if got := watch(mnt, "-n", "1", "--format", "%e %p %s%%", "q"); !strings.HasPrefix(got, "create q/x ") || !strings.HasSuffix(got, "%\n") {
		t.Errorf("%%-template: got %q", got)
	}
	for _, bad := range [][]string{{"--format", "%z"}, {"--format", "{{.Nope"}, {"--csv", "--format", "json"}, {"--settle", "1s"}} {
		if r := run(t, append(append([]string{"watch"}, bad...), mnt)...); r.code != 2 {
			t.Errorf("watch %v: exit %d, want 2 (%s)", bad, r.code, r.stderr)
		}
	}
	if r := run(t, "watch", "-n", "1", t.TempDir()); r.code != 1 || !strings.Contains(r.stderr, "is not inside a notifyfs mount") {
		t.Errorf("watch outside a mount: exit %d: %s", r.code, r.stderr)
	}
}

// TestWatchSettleExec checks that a burst of changes runs the command
// once, with every changed path. The burst is over before watch starts
// (it replays it from a cursor), so the test does not depend on timing.
func TestWatchSettleExec(t *testing.T) {
	_, mnt := binMount(t)
	since := strings.TrimSpace(mustRun(t, "sync", mnt))
	for _, n := range []string{"a", "b", "c"} {
		os.WriteFile(filepath.Join(mnt, n), []byte(n), 0o644)
	}
	out := filepath.Join(t.TempDir(), "out")
	r := run(t, "watch", "--since", since, "-n", "1", "--settle", "100ms", "--timeout", "15s",
		"--exec", `{ cat; echo "env=$NOTIFYFS_CHANGED" | tr '\n' ' '; echo "all=$NOTIFYFS_EVERYTHING"; } >> `+out, mnt)
	if r.code != 0 {
		t.Fatalf("watch --exec: exit %d: %s", r.code, r.stderr)
	}
	b, _ := os.ReadFile(out)
	if want := "a\nb\nc\nenv=a b c all=0\n"; string(b) != want {
		t.Fatalf("the command saw %q, want %q (one run)", b, want)
	}
}
