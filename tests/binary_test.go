//go:build linux

package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/mountutil"
)

// binary is the notifyfs command built once for the tests that run it.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "notifyfs-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "notifyfs")
	goTool, err := exec.LookPath("go") // the go that runs these tests is on PATH
	if err != nil {
		fmt.Fprintln(os.Stderr, "building notifyfs:", err)
		os.Exit(1)
	}
	build := exec.Command(goTool, "build", "-o", binary, "../cmd/notifyfs")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building notifyfs:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result of one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary to completion (bounded by waitLimit).
func run(t testing.TB, args ...string) result {
	t.Helper()
	return runIn(t, "", args...)
}

// runIn is run with dir as the working directory ("" = the test's).
func runIn(t testing.TB, dir string, args ...string) result {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(c, binary, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("notifyfs %v: %v", args, err)
	}
	return r
}

// mustRun runs the binary and fails the test unless it exits 0.
func mustRun(t testing.TB, args ...string) string {
	t.Helper()
	r := run(t, args...)
	if r.code != 0 {
		t.Fatalf("notifyfs %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// binMount mounts with the binary in the background and makes sure the
// mount is gone when the test ends.
func binMount(t *testing.T, extra ...string) (src, mnt string) {
	t.Helper()
	requireFuse(t)
	dir := t.TempDir()
	src, mnt = filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	os.Mkdir(src, 0o755)
	os.Mkdir(mnt, 0o755)
	// The journal lives in the test's directory, not in the machine's
	// state directory.
	args := append([]string{"mount", "--journal", filepath.Join(dir, "journal")}, extra...)
	mustRun(t, append(args, src, mnt)...)
	t.Cleanup(func() { cleanupMount(t, mnt) })
	return src, mnt
}

// cleanupMount unmounts whatever is left at mnt, stale or live.
func cleanupMount(t testing.TB, mnt string) {
	if mountutil.IsStale(mnt) {
		mountutil.ClearStale(mnt)
		return
	}
	if _, ok, _ := mountutil.Lookup(mnt); ok {
		if r := run(t, "umount", "--lazy", mnt); r.code != 0 {
			t.Errorf("cleanup umount: %s", r.stderr)
		}
	}
}

func decodeEvents(t testing.TB, out string) []eventbus.Event {
	t.Helper()
	var evs []eventbus.Event
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var e eventbus.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("bad event line %q: %v", line, err)
		}
		evs = append(evs, e)
	}
	return evs
}

func TestBinaryMountWatchSyncStatusUmount(t *testing.T) {
	_, mnt := binMount(t)
	if mi, ok, _ := mountutil.Lookup(mnt); !ok || mi.FSType != "fuse.notifyfs" {
		t.Fatalf("after mount returned, %s is not a notifyfs mount: %+v", mnt, mi)
	}
	start := strings.TrimSpace(mustRun(t, "sync", mnt))

	os.Mkdir(filepath.Join(mnt, "dir"), 0o755)
	os.WriteFile(filepath.Join(mnt, "dir", "file"), []byte("data"), 0o644)
	os.Rename(filepath.Join(mnt, "dir", "file"), filepath.Join(mnt, "renamed"))
	seq := strings.TrimSpace(mustRun(t, "sync", mnt))
	if seq <= start && len(seq) <= len(start) {
		t.Fatalf("sync seq did not advance: %s then %s", start, seq)
	}

	// --since replays from the daemon's memory: no race with the writer.
	out := mustRun(t, "watch", "--since", start, "--format", "json", "--type", "mkdir,create,rename", "-n", "3", "--timeout", "20s", mnt)
	evs := decodeEvents(t, out)
	wantTypes := []eventbus.Type{eventbus.Mkdir, eventbus.Create, eventbus.Rename}
	wantPaths := []string{"dir", "dir/file", "renamed"}
	if len(evs) != 3 {
		t.Fatalf("want 3 events, got:\n%s", out)
	}
	for i, e := range evs {
		if e.Type != wantTypes[i] || e.Path != wantPaths[i] || int(e.Pid) != os.Getpid() || e.Origin != eventbus.OriginMount {
			t.Errorf("event %d: %+v, want %s %s by pid %d", i, e, wantTypes[i], wantPaths[i], os.Getpid())
		}
	}
	if evs[2].From != "dir/file" {
		t.Errorf("rename from = %q", evs[2].From)
	}

	var st map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "status", mnt)), &st); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(st["seq"]) != seq || st["epoch"] == "" || st["mount"] != mnt {
		t.Errorf("status: seq %v (want %s) epoch %v mount %v", st["seq"], seq, st["epoch"], st["mount"])
	}

	text := mustRun(t, "watch", "--since", start, "-n", "1", "--type", "rename", mnt)
	if !strings.Contains(text, "rename renamed <- dir/file") {
		t.Errorf("text format: %q", text)
	}

	sock, _ := mountutil.FindSocket(mnt)
	mustRun(t, "umount", mnt)
	if _, ok, _ := mountutil.Lookup(mnt); ok {
		t.Fatal("still mounted after umount")
	}
	if _, err := os.Stat(sock); err == nil {
		t.Error("socket left behind after umount")
	}
}

func TestBinaryBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	os.Mkdir(filepath.Join(dir, "a"), 0o755)
	os.Mkdir(filepath.Join(dir, "a", "b"), 0o755)
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"mount", "--bogus", dir, dir}, 2, "unknown flag"},
		{[]string{"mount", dir}, 2, "want 2 argument"},
		{[]string{"mount", filepath.Join(dir, "missing"), dir}, 1, "no such file"},
		{[]string{"mount", file, filepath.Join(dir, "a")}, 1, "not a directory"},
		{[]string{"mount", filepath.Join(dir, "a"), filepath.Join(dir, "a", "b")}, 1, "overlap"},
		{[]string{"mount", filepath.Join(dir, "a", "b"), filepath.Join(dir, "a")}, 1, "overlap"},
		{[]string{"mount", "--print", dir, dir}, 2, "--print needs --foreground"},
		{[]string{"mount", "--underneath", "psychic", filepath.Join(dir, "a"), filepath.Join(dir, "c")}, 2, "unknown backend"},
		{[]string{"mount", "--underneath", "kqueue", filepath.Join(dir, "a"), filepath.Join(dir, "c")}, 2, "not available on this system"},
		{[]string{"watch", "--type", "bogus", dir}, 2, "unknown type"},
		{[]string{"watch", "--since", "yesterday", dir}, 2, "--since"},
		{[]string{"watch", dir}, 1, "is not inside a notifyfs mount"},
		{[]string{"sync", dir}, 1, "is not a notifyfs mount"},
		{[]string{"status", "--format", "xml", dir}, 2, "--format"},
		{[]string{"umount", dir}, 1, "not mounted"},
	} {
		r := run(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.msg) {
			t.Errorf("notifyfs %v: exit %d stderr %q; want exit %d mentioning %q", c.args, r.code, r.stderr, c.code, c.msg)
		}
	}
}

// A daemon killed with SIGKILL leaves a stale mount ("transport endpoint
// is not connected"); both umount and a new mount clear it.
func TestBinaryStaleMount(t *testing.T) {
	src, mnt := binMount(t)
	for round, recover := range []func(){
		func() { mustRun(t, "umount", mnt) },
		func() {}, // mount itself clears it
	} {
		var st map[string]any
		json.Unmarshal([]byte(mustRun(t, "status", "--format", "json", mnt)), &st)
		pid := int(st["pid"].(float64))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitGone(t, pid)
		if !mountutil.IsStale(mnt) {
			t.Fatalf("round %d: mount not stale after kill -9", round)
		}
		recover()
		mustRun(t, "mount", "--journal", filepath.Join(filepath.Dir(src), "journal"), src, mnt)
		os.WriteFile(filepath.Join(mnt, fmt.Sprint("after", round)), []byte("x"), 0o644)
		if _, err := os.Stat(filepath.Join(src, fmt.Sprint("after", round))); err != nil {
			t.Fatalf("round %d: remount does not work: %v", round, err)
		}
	}
}

// waitGone waits for a process that is not our child to exit: a pidfd
// becomes readable when it does.
func waitGone(t testing.TB, pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // already gone
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, err := unix.Poll(fds, int(waitLimit/time.Millisecond)); n != 1 {
		t.Fatalf("pid %d did not exit: %v", pid, err)
	}
}

// mount -f --print prints events as they happen; SIGTERM unmounts
// cleanly and the stream ends with unmount.
func TestBinaryForegroundPrintSignal(t *testing.T) {
	requireFuse(t)
	dir := t.TempDir()
	src, mnt := filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	os.Mkdir(src, 0o755)
	os.Mkdir(mnt, 0o755)
	t.Cleanup(func() { cleanupMount(t, mnt) })

	ready, readyW, _ := os.Pipe()
	cmd := exec.Command(binary, "mount", "-f", "--print", "--format", "json", "--journal", "none", "--ready-fd=3", src, mnt)
	cmd.ExtraFiles = []*os.File{readyW}
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readyW.Close()
	line, _ := bufio.NewReader(ready).ReadString('\n')
	if strings.TrimSpace(line) != "ok" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("daemon not ready: %q %s", line, stderr.String())
	}
	if err := os.Mkdir(filepath.Join(mnt, "made"), 0o755); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatalf("no event printed: %s", stderr.String())
	}
	if !strings.Contains(lines.Text(), `"type":"mkdir","path":"made"`) {
		t.Errorf("printed %s", lines.Text())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	var last string
	for lines.Scan() {
		last = lines.Text()
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("daemon exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(last, `"type":"unmount"`) {
		t.Errorf("stream did not end with unmount: %q", last)
	}
	if _, ok, _ := mountutil.Lookup(mnt); ok {
		t.Error("still mounted after SIGTERM")
	}
}
