package kqshim

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
)

// Finding 9: the kernel queue was unlimited (it grew by megabytes while
// the daemon did not read). It now keeps the kernel's bound, and its
// overflow becomes a rescan of SOURCE.
func TestFanotifyQueueBoundedOverflowRescans(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("fanotify needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "d0"), 0o755)

	release := make(chan struct{})
	fanotifyTestHold = func() { <-release }
	defer func() { fanotifyTestHold = nil }()
	w, c := startWatcher(t, "fanotify", src)
	defer w.Close()
	churn(t, src, 20_000) // 40,000 notes while nobody reads: over 16,384
	close(release)
	flush(t, w)

	st := w.Stats().Detail.(FanotifyStats)
	if st.Overflows == 0 {
		t.Fatalf("no overflow with 40,000 notes queued: the queue is not bounded (%+v)", st)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.evs {
		if e.Type == eventbus.Rescan && e.Path == "" {
			return
		}
	}
	t.Fatalf("the overflow gave no rescan of SOURCE: %s", describe(c.evs))
}

// Finding 9: a note in a directory that could not be placed was dropped
// as "outside source", with no rescan. A directory once seen in SOURCE
// is now remembered, and such a note becomes a rescan of the smallest
// ancestor known; a directory known to be outside stays foreign.
func TestFanotifyUnplacedNoteRescans(t *testing.T) {
	c := &collector{}
	b := &fanotifyBackend{s: newSink(t.TempDir(), Config{Publish: c.publish, Logf: t.Logf}),
		outside: map[string]bool{}, inside: map[string]string{}}
	defer b.s.close()
	b.remember("gone-dir", "a/b/gone")
	b.outside["elsewhere"] = true
	b.unplaced(&fanNote{dir: "gone-dir", name: "f"})
	b.unplaced(&fanNote{dir: "gone-dir", name: "g"}) // same batch: one rescan
	b.unplaced(&fanNote{dir: "elsewhere", name: "f"})
	if got := c.take(); got != "rescan a/b" {
		t.Fatalf("got %q, want one rescan of a/b", got)
	}
	if b.unplaceable.Load() != 2 || b.foreign.Load() != 1 {
		t.Fatalf("unplaceable %d, foreign %d", b.unplaceable.Load(), b.foreign.Load())
	}
}
