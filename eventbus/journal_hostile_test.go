package eventbus

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// collect splits what a subscription got into change events and
// overflow ranges.
func collect(evs []*Event) (changes []*Event, overflows [][2]uint64, resets int) {
	for _, e := range evs {
		switch e.Type {
		case Overflow:
			overflows = append(overflows, [2]uint64{e.FromSeq, e.ToSeq})
		case Reset:
			resets++
		default:
			changes = append(changes, e)
		}
	}
	return
}

// Finding 4: one flipped byte in the middle of the last segment used to
// truncate everything after it. Recovery now resynchronises on the next
// intact record, and readers are told of exactly the damaged seq.
func TestRecoveryKeepsIntactRecordsAfterDamage(t *testing.T) {
	dir := t.TempDir()
	b := openTestBus(t, dir)
	publishN(b, 10_000, "a")
	b.j.flushTo(10_000)
	crash(b) // the last segment is the one recovery repairs
	segs := segFiles(t, dir)
	data, err := os.ReadFile(segs[len(segs)-1])
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x40
	if err := os.WriteFile(segs[len(segs)-1], data, 0o600); err != nil {
		t.Fatal(err)
	}

	b = openTestBus(t, dir)
	defer b.Close()
	s := mustSubscribe(t, b, Filter{}, &Cursor{Seq: 0})
	changes, overflows, _ := collect(drainAll(t, b, s))
	// The seqs reserved but never written by the crashed run come last.
	if len(overflows) > 0 && overflows[len(overflows)-1][0] == 10_001 {
		overflows = overflows[:len(overflows)-1]
	}
	if len(overflows) != 1 || overflows[0][0] != overflows[0][1] {
		t.Fatalf("overflows %v: want exactly the one damaged seq", overflows)
	}
	if len(changes) != 9_999 {
		t.Fatalf("%d intact events delivered, want 9999", len(changes))
	}
	if b.Seq() < 10_000 {
		t.Fatalf("seq moved back to %d", b.Seq())
	}
}

// Finding 4: with the reservation deleted and a segment truncated, the
// sequence restarted lower in the same epoch, and an old cursor resumed
// into different events without a reset. Now a new epoch starts.
func TestLostReservationStartsNewEpoch(t *testing.T) {
	dir := t.TempDir()
	b := openTestBus(t, dir)
	publishN(b, 10_000, "a")
	old := b.Epoch()
	b.Close()
	if err := os.Remove(filepath.Join(dir, reserveFile)); err != nil {
		t.Fatal(err)
	}
	segs := segFiles(t, dir)
	fi, _ := os.Stat(segs[len(segs)-1])
	if err := os.Truncate(segs[len(segs)-1], fi.Size()/2); err != nil {
		t.Fatal(err)
	}

	b = openTestBus(t, dir)
	defer b.Close()
	if b.Epoch() == old {
		t.Fatalf("epoch %s kept although the seqs handed out are unknown", old)
	}
	publishN(b, 10, "b")
	s := mustSubscribe(t, b, Filter{}, &Cursor{Epoch: old, Seq: 9000})
	got := drainAll(t, b, s)
	if len(got) == 0 || got[0].Type != Reset || got[0].Epoch != b.Epoch() {
		t.Fatalf("old cursor got %v, want a reset into the new epoch", got)
	}
	// The old epoch's records are kept, out of the way.
	if m, _ := filepath.Glob(filepath.Join(dir, "epoch-"+old, "*.seg")); len(m) == 0 {
		t.Error("the old epoch's segments were not kept aside")
	}
}

// Finding 5: a journal directory others can write, or another user's,
// is refused with a message that says how to fix it.
func TestJournalRefusesUntrustedDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := OpenBus(Options{Journal: JournalOptions{Dir: dir}})
	if err == nil || !strings.Contains(err.Error(), "chmod go-w") {
		t.Fatalf("world-writable journal directory: %v", err)
	}
	if os.Geteuid() != 0 {
		return // cannot give a directory away
	}
	os.Chmod(dir, 0o700)
	if err := os.Chown(dir, 65534, -1); err != nil {
		t.Fatal(err)
	}
	_, err = OpenBus(Options{Journal: JournalOptions{Dir: dir}})
	if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("another user's journal directory: %v", err)
	}
}

// Finding 5: segment names planted as symlinks made rotation overwrite
// the file they pointed to. Segments are now created with O_EXCL and
// O_NOFOLLOW: the victim is untouched and the journal degrades.
func TestJournalPlantedSymlinkNotFollowed(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := openTestBus(t, dir, func(o *Options) { o.Journal.SegmentBytes = 4 << 10 })
	defer b.Close()
	publishN(b, 5, "a")
	for seq := 6; seq < 400; seq++ {
		os.Symlink(victim, filepath.Join(dir, fmt.Sprintf("%020d.seg", seq)))
	}
	publishN(b, 300, "b") // rotates into a planted name
	if data, _ := os.ReadFile(victim); string(data) != "precious\n" {
		t.Fatalf("the victim was written through a planted symlink: %q", data)
	}
	if st := b.Stats().Journal; st.Error == "" {
		t.Fatalf("rotation into a planted name did not fail: %+v", st)
	}
}
