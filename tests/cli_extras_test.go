//go:build linux

package tests

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestCLIExtras covers version, help CMD, completions, man pages,
// journals, and values that parse but are refused.
func TestCLIExtras(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	_, mnt := binMount(t, "--journal", filepath.Join(state, "journal-test"))

	out := mustRun(t, "version", mnt)
	for _, want := range []string{"go-fuse   v2.", "kernel    Linux ", "fuse      protocol 7."} {
		if !strings.Contains(out, want) {
			t.Errorf("version MOUNTPOINT lacks %q:\n%s", want, out)
		}
	}
	if r := run(t, "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "notifyfs  ") {
		t.Errorf("--version: %d %q", r.code, r.stdout)
	}
	if r := run(t, "help", "watch"); r.code != 0 || !strings.Contains(r.stderr, "--settle") {
		t.Errorf("help watch: %d %q", r.code, r.stderr)
	}

	// Completions are generated from the flags and are valid scripts.
	for _, sh := range []string{"bash", "zsh", "fish"} {
		script := mustRun(t, "completion", sh)
		if !strings.Contains(script, "journal-max-size") || !strings.Contains(script, "fsmonitor") {
			t.Errorf("%s completion lacks a flag or command", sh)
		}
		if _, err := exec.LookPath(sh); err != nil {
			continue // only bash is on every machine the tests run on
		}
		f := filepath.Join(dir, "c."+sh)
		os.WriteFile(f, []byte(script), 0o644)
		if out, err := exec.Command(sh, "-n", f).CombinedOutput(); err != nil {
			t.Errorf("%s -n: %v\n%s", sh, err, out)
		}
	}
	mustRun(t, "man", filepath.Join(dir, "man"))
	page, err := os.ReadFile(filepath.Join(dir, "man", "notifyfs-mount.1"))
	if err != nil || !strings.Contains(string(page), `\-\-metrics`) || !strings.Contains(string(page), ".TH NOTIFYFS\\-MOUNT 1") {
		t.Errorf("notifyfs-mount.1: %v\n%.300s", err, page)
	}

	// journals: the live one is listed as in use and never pruned.
	out = mustRun(t, "journals", "--dir", state)
	if !strings.Contains(out, "journal-test") || !strings.Contains(out, " true ") || !strings.Contains(out, "-> "+mnt) {
		t.Errorf("journals list:\n%s", out)
	}
	if out := mustRun(t, "journals", "prune", "--older-than", "0", "--dir", state); strings.Contains(out, "journal-test") {
		t.Errorf("pruned a journal in use:\n%s", out)
	}

	for _, bad := range [][]string{{"--write-interval", "-1s"}, {"--journal-max-size", "1"}, {"--poll-interval", "0"}, {"-o", "nope"}} {
		args := append(append([]string{"mount"}, bad...), dir, dir)
		if bad[0] == "-o" {
			args = []string{dir, dir, "-o", "nope"}
		}
		if r := run(t, args...); r.code != 2 || strings.Contains(r.stderr, "mountutil:") {
			t.Errorf("%v: exit %d, want 2: %s", args, r.code, r.stderr)
		}
	}
}

// TestStaleMountMessage checks the user-facing error for a mount whose
// daemon died.
func TestStaleMountMessage(t *testing.T) {
	_, mnt := binMount(t)
	var st map[string]any
	json.Unmarshal([]byte(mustRun(t, "status", mnt)), &st)
	pid := int(st["pid"].(float64))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	for _, cmd := range []string{"sync", "status", "watch"} {
		r := run(t, cmd, mnt)
		want := "the daemon of " + mnt + " is not running; run notifyfs umount " + mnt
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("%s on a stale mount: exit %d %q, want %q", cmd, r.code, r.stderr, want)
		}
	}
}

// TestCursorLoopSurvivesReset runs the README's cursor loop across a
// daemon restart that starts a new epoch: the stored cursor gets a reset
// whose %C names the new epoch, and the run after that resumes cleanly.
func TestCursorLoopSurvivesReset(t *testing.T) {
	src, mnt := binMount(t, "--journal", "none")
	next := func(cursor, file string) []string {
		t.Helper()
		os.WriteFile(filepath.Join(mnt, file), nil, 0o644)
		out := mustRun(t, "watch", "--since", cursor, "--type", "create", "--path", file, "-n", "1", "--format", "%C %j", mnt)
		return strings.Split(strings.TrimSpace(out), "\n")
	}
	first := next("0", "a")
	cursor, _, _ := strings.Cut(first[len(first)-1], " ")
	mustRun(t, "umount", mnt)
	mustRun(t, "mount", "--journal", "none", src, mnt) // a new epoch

	// The stored cursor is of the old epoch: the stream starts with a
	// reset (the consumer rescans), then goes on live.
	w := exec.Command(binary, "watch", "--since", cursor, "--type", "create", "-n", "1", "--format", "%C %j", mnt)
	stdout, _ := w.StdoutPipe()
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Wait()
	br := bufio.NewReader(stdout)
	reset, err := br.ReadString('\n')
	if err != nil || !strings.Contains(reset, `"type":"reset"`) {
		w.Process.Kill()
		t.Fatalf("after the restart: %q %v, want a reset", reset, err)
	}
	os.WriteFile(filepath.Join(mnt, "b"), nil, 0o644)
	ev, _ := br.ReadString('\n')
	if !strings.Contains(ev, `"path":"b"`) {
		t.Fatalf("after the reset: %q", ev)
	}
	resetCursor, _, _ := strings.Cut(reset, " ")
	cursor, _, _ = strings.Cut(ev, " ")
	if epoch, _, _ := strings.Cut(cursor, ":"); !strings.HasPrefix(resetCursor, epoch+":") || strings.HasPrefix(first[0], epoch+":") {
		t.Fatalf("cursors %q then %q after the reset from %q", resetCursor, cursor, first[0])
	}
	if lines := next(cursor, "c"); len(lines) != 1 || !strings.Contains(lines[0], `"path":"c"`) {
		t.Fatalf("resuming from %s: %q", cursor, lines)
	}
}
