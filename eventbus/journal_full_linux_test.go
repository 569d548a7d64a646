package eventbus

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallTmpfs mounts a tmpfs of the given size for the test and unmounts
// it afterwards: a filesystem that really fills up, not a simulation.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("NOTIFYFS_TEST_DISALLOW_SKIP") != "" {
			t.Fatal("mounting a tmpfs needs root (NOTIFYFS_TEST_DISALLOW_SKIP is set)")
		}
		t.Skip("mounting a tmpfs needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0700"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fill writes a file until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// Finding 2: with --journal-sync always, one write error stopped the
// stream for good: events never came and sync never answered. Now the
// stream goes on from memory, subscribers are told durability is lost
// from seq N, status names the failure, and the journal resumes by
// itself once space returns.
func TestJournalFullDegradesAndResumes(t *testing.T) {
	fs := smallTmpfs(t, "1m")
	old := retryEvery
	retryEvery = 0
	defer func() { retryEvery = old }()
	b := openTestBus(t, filepath.Join(fs, "journal"), func(o *Options) { o.Journal.Sync = SyncAlways })
	defer b.Close()
	s := mustSubscribe(t, b, Filter{}, nil)
	filler := filepath.Join(fs, "filler")
	fill(t, filler)

	long := strings.Repeat("p", 1000)
	const n = 2000 // ~2 MB of records on a full 1 MiB filesystem
	for i := 0; i < n; i++ {
		b.Publish(&Event{Type: Create, Path: long, Origin: OriginMount})
	}
	// Every Publish returned (none waits forever on a durability that
	// will not come), and every event is delivered, with the notice.
	got := drainAll(t, b, s)
	var changes, lost int
	var lostFrom uint64
	for _, e := range got {
		switch e.Type {
		case Create:
			changes++
		case DurabilityLost:
			lost++
			lostFrom = e.FromSeq
		}
	}
	if changes != n || lost != 1 || lostFrom == 0 || lostFrom > n {
		t.Fatalf("%d of %d events, %d durability_lost notices (from %d)", changes, n, lost, lostFrom)
	}
	st := b.Stats().Journal
	if st.Error == "" || st.DurabilityLostFrom != lostFrom {
		t.Fatalf("status does not name the failure: %+v", st)
	}

	// Space returns: the next event is recorded again, and said so.
	os.Remove(filler)
	q := pub(b, Mkdir, "after")
	got = drainAll(t, b, s)
	if len(got) != 2 || got[0].Seq != q || got[1].Type != DurabilityRestored || got[1].FromSeq != q {
		t.Fatalf("after space returned: %v", got)
	}
	if st := b.Stats().Journal; st.Error != "" {
		t.Fatalf("journal still failed: %+v", st)
	}
}

// Finding 3: a full journal filesystem blocked the next mount (ENOSPC
// at open). It now opens memory-only with a warning and the reason in
// status; with SyncAlways, which promised durability, it refuses.
func TestJournalFullAtOpen(t *testing.T) {
	fs := smallTmpfs(t, "256k")
	fill(t, filepath.Join(fs, "filler"))
	dir := filepath.Join(fs, "journal")

	_, err := OpenBus(Options{Journal: JournalOptions{Dir: dir, Sync: SyncAlways}})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("SyncAlways on a full filesystem: %v, want ENOSPC", err)
	}
	var warned string
	b, err := OpenBus(Options{Journal: JournalOptions{Dir: dir, Logf: func(f string, a ...any) { warned = f }}})
	if err != nil {
		t.Fatalf("a full journal filesystem blocks the bus: %v", err)
	}
	defer b.Close()
	if !strings.Contains(warned, "WARNING") {
		t.Errorf("no warning logged (%q)", warned)
	}
	if st := b.Stats().Journal; st == nil || !strings.Contains(st.Error, "no space") {
		t.Fatalf("status does not say why there is no journal: %+v", st)
	}
	s := mustSubscribe(t, b, Filter{}, nil)
	q := pub(b, Create, "x")
	if got := drain(t, s); len(got) != 1 || got[0].Seq != q {
		t.Fatalf("got %v", got)
	}
}
