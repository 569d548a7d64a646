//go:build linux

package tests

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
)

const inotifyQueueSysctl = "/proc/sys/fs/inotify/max_queued_events"

// inotify's queue overflows (a tiny queue, and a burst while the daemon
// is stopped so that it cannot read): the stream says rescan, a
// subscriber that re-reads the tree through the mount then sees SOURCE
// as it is, and later changes are seen again — also in directories made
// during the burst, whose creation was lost.
func TestUnderneathInotifyOverflowRescan(t *testing.T) {
	requireFuse(t)
	old, err := os.ReadFile(inotifyQueueSysctl)
	if err != nil {
		t.Fatalf("cannot read the inotify queue limit: %v", err)
	}
	restore := func() { os.WriteFile(inotifyQueueSysctl, old, 0o644) }
	t.Cleanup(restore)
	must(t, os.WriteFile(inotifyQueueSysctl, []byte("32"), 0o644))
	src, mnt := backingMount(t, "inotify") // its instance keeps the tiny queue
	restore()                              // the instance made after the overflow does not
	s := follow(t, mnt)
	must(t, os.WriteFile(filepath.Join(src, "before"), []byte("b"), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "keep"), []byte("k"), 0o644))
	s.synced()
	// Warm the mount's caches (a minute long), which the lost events
	// would leave stale.
	listTree(t, mnt)

	pid := daemonPid(t, mnt)
	must(t, syscall.Kill(pid, syscall.SIGSTOP))
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	// Notes in a watched directory fill the queue: well over 32.
	for f := range 100 {
		must(t, os.WriteFile(filepath.Join(src, "top"+strconv.Itoa(f)), []byte("x"), 0o644))
	}
	for d := range 5 {
		dir := filepath.Join(src, "burst", "sub"+strconv.Itoa(d))
		must(t, os.MkdirAll(dir, 0o755))
		for f := range 40 {
			must(t, os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(f)), []byte("x"), 0o644))
		}
	}
	must(t, os.Remove(filepath.Join(src, "before")))
	must(t, os.WriteFile(filepath.Join(src, "keep"), []byte("kept, and longer"), 0o644))
	must(t, syscall.Kill(pid, syscall.SIGCONT))
	stopped = false

	evs := s.synced()
	rescans := 0
	for _, e := range evs {
		if e.Type == eventbus.Rescan {
			rescans++
			if e.Path != "" {
				t.Errorf("rescan of %q, want the whole tree", e.Path)
			}
		}
	}
	if rescans != 1 {
		t.Fatalf("%d rescan events after the overflow, want 1: %s", rescans, summary(evs))
	}

	// The subscriber rescans, through the mount. Names and attributes
	// first, before a listing would refresh them.
	if _, err := os.Lstat(filepath.Join(mnt, "before")); !os.IsNotExist(err) {
		t.Errorf("a name removed during the overflow is still there through the mount: %v", err)
	}
	statSize(t, filepath.Join(mnt, "keep"), int64(len("kept, and longer")))
	if got, want := listTree(t, mnt), listTree(t, src); got != want {
		t.Errorf("tree through the mount after the rescan:\n%s\nwant (SOURCE):\n%s", got, want)
	}

	// Watching goes on, in a directory whose creation was lost too.
	must(t, os.WriteFile(filepath.Join(src, "burst", "sub3", "after"), nil, 0o644))
	if got := summary(s.synced()); got != "create burst/sub3/after (backing)" {
		t.Errorf("after the rescan: %s", got)
	}
}

// listTree renders every path below root with its size.
func listTree(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		size := info.Size()
		if d.IsDir() {
			size = 0
		}
		lines = append(lines, fmt.Sprintf("%s %d", rel, size))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
