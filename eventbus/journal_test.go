package eventbus

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTestBus(t *testing.T, dir string, mutate ...func(*Options)) *Bus {
	t.Helper()
	o := Options{Journal: JournalOptions{Dir: dir, Logf: t.Logf}}
	for _, m := range mutate {
		m(&o)
	}
	b, err := OpenBus(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crash abandons a bus the way kill -9 would: what is still buffered in
// the process is lost, nothing is recorded as a clean stop.
func crash(b *Bus) {
	j := b.j
	j.mu.Lock()
	j.w.Reset(io.Discard)
	j.closed = true
	j.mu.Unlock()
	close(j.stop)
	<-j.done
	j.f.Close()
	j.lock.Close()
	j.dirf.Close()
}

func publishN(b *Bus, n int, prefix string) {
	for i := 0; i < n; i++ {
		b.Publish(&Event{Type: Create, Path: fmt.Sprintf("%s%d", prefix, i), Origin: OriginMount, Pid: 7})
	}
}

// drainAll takes everything from s up to the bus's current seq.
func drainAll(t *testing.T, b *Bus, s *Subscription) []*Event {
	t.Helper()
	target := b.Seq()
	var out []*Event
	for {
		var pos uint64
		var done bool
		out, pos, done = s.Take(out, 1<<20)
		if pos >= target || done {
			return out
		}
		<-s.Ready()
	}
}

func TestJournalReopenContinuesEpochAndSeq(t *testing.T) {
	dir := t.TempDir()
	b := openTestBus(t, dir)
	epoch := b.Epoch()
	publishN(b, 1000, "a")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openTestBus(t, dir)
	defer b.Close()
	if b.Epoch() != epoch || b.Seq() != 1001 { // 1000 + the unmount
		t.Fatalf("reopened: epoch %s seq %d, want %s 1001", b.Epoch(), b.Seq(), epoch)
	}
	s, _ := b.Subscribe("t", Filter{}, &Cursor{Epoch: epoch, Seq: 990})
	publishN(b, 5, "b")
	got := drainAll(t, b, s)
	if len(got) != 15 {
		t.Fatalf("want 10 replayed + 5 live, got %d:%v", len(got), got)
	}
	for i, e := range got {
		if want := uint64(991 + i); i >= 10 {
			want = uint64(1002 + i - 10)
			if e.Seq != want || e.Path != fmt.Sprintf("b%d", i-10) {
				t.Errorf("live %d: seq %d path %s", i, e.Seq, e.Path)
			}
		} else if e.Seq != want || e.Path != fmt.Sprintf("a%d", 990+i) || e.Pid != 7 || e.Origin != OriginMount {
			t.Errorf("replayed %d: %+v, want seq %d", i, e, want)
		}
	}
}

func TestJournalCrashIntervalSkipsNeverReuses(t *testing.T) {
	dir := t.TempDir()
	b := openTestBus(t, dir)
	publishN(b, 100, "a")
	b.j.flushTo(100) // what the kernel had when the process died
	publishN(b, 5, "lost")
	crash(b)

	b = openTestBus(t, dir)
	defer b.Close()
	if b.Seq() <= 105 {
		t.Fatalf("seq after crash %d: seqs up to 105 may have been seen and must not be reused", b.Seq())
	}
	restart := b.Seq()
	s, _ := b.Subscribe("t", Filter{}, &Cursor{Seq: 98})
	publishN(b, 1, "new")
	got := drainAll(t, b, s)
	if len(got) != 4 || got[0].Seq != 99 || got[1].Seq != 100 ||
		got[2].Type != Overflow || got[2].FromSeq != 101 || got[2].ToSeq != restart ||
		got[3].Seq != restart+1 || got[3].Path != "new0" {
		t.Fatalf("after crash: %v", got)
	}
}

func TestJournalAlwaysLosesNothing(t *testing.T) {
	dir := t.TempDir()
	always := func(o *Options) { o.Journal.Sync = SyncAlways }
	b := openTestBus(t, dir, always)
	s, _ := b.Subscribe("watcher", Filter{}, nil)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			publishN(b, 200, fmt.Sprintf("w%d-", w))
		}()
	}
	wg.Wait()
	seen := drainAll(t, b, s)
	last := seen[len(seen)-1].Seq
	crash(b) // every Publish returned, so all 1600 are on disk

	b = openTestBus(t, dir, always)
	defer b.Close()
	if b.Seq() != 1600 || last != 1600 {
		t.Fatalf("after crash seq %d (subscriber saw up to %d), want 1600", b.Seq(), last)
	}
	s2, _ := b.Subscribe("resumer", Filter{}, &Cursor{Seq: 1500})
	got := drainAll(t, b, s2)
	if len(got) != 100 || got[0].Seq != 1501 || got[99].Seq != 1600 {
		t.Fatalf("resume: %d events %v..", len(got), got[:min(3, len(got))])
	}
}

func segFiles(t *testing.T, dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	sort.Strings(m)
	return m
}

func TestJournalTornTailRepaired(t *testing.T) {
	dir := t.TempDir()
	b := openTestBus(t, dir)
	publishN(b, 50, "a")
	b.Close()
	segs := segFiles(t, dir)
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{200, 0, 0, 0, 1, 2, 3}) // a record cut short
	f.Close()

	var logged []string
	b, err := OpenBus(Options{Journal: JournalOptions{Dir: dir, Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !strings.Contains(strings.Join(logged, "\n"), "torn tail") {
		t.Errorf("torn tail not reported: %q", logged)
	}
	s, _ := b.Subscribe("t", Filter{}, &Cursor{Seq: 0})
	got := drainAll(t, b, s)
	if len(got) != 50 || got[49].Path != "a49" {
		t.Fatalf("after repair: %d events", len(got))
	}
}

func TestJournalCorruptMiddleSegmentSkipped(t *testing.T) {
	dir := t.TempDir()
	small := func(o *Options) { o.Journal.SegmentBytes = 4 << 10; o.RingSize = 8 }
	b := openTestBus(t, dir, small)
	publishN(b, 600, "a")
	b.Close()
	segs := segFiles(t, dir)
	if len(segs) < 4 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	victim := segs[1]
	data, _ := os.ReadFile(victim)
	data[len(data)/2] ^= 0xff
	os.WriteFile(victim, data, 0o600)
	var first, next uint64
	fmt.Sscanf(filepath.Base(segs[1]), "%d.seg", &first)
	fmt.Sscanf(filepath.Base(segs[2]), "%d.seg", &next)

	b = openTestBus(t, dir, small)
	defer b.Close()
	s, _ := b.Subscribe("t", Filter{}, &Cursor{Seq: 0})
	got := drainAll(t, b, s)
	var overflow *Event
	n := 0
	for _, e := range got {
		if e.Type == Overflow {
			if overflow != nil {
				t.Fatalf("two overflows: %v and %v", overflow, e)
			}
			overflow = e
			continue
		}
		n++
	}
	// One flipped byte damages one record: exactly its seq is lost,
	// and the rest of the segment is read (finding 4).
	if overflow == nil || overflow.FromSeq < first || overflow.ToSeq >= next || overflow.FromSeq != overflow.ToSeq {
		t.Fatalf("overflow %v, want one seq inside %d..%d", overflow, first, next-1)
	}
	if lost := overflow.ToSeq - overflow.FromSeq + 1; uint64(n)+lost != 600 {
		t.Fatalf("%d delivered + %d lost != 600", n, lost)
	}
	if b.Stats().Dropped == 0 {
		t.Error("status does not count the lost events")
	}
}

func TestJournalRetention(t *testing.T) {
	dir := t.TempDir()
	small := func(o *Options) {
		o.Journal.SegmentBytes = 4 << 10
		o.Journal.MaxBytes = 16 << 10
		o.RingSize = 8
	}
	b := openTestBus(t, dir, small)
	defer b.Close()
	publishN(b, 2000, "a")
	st := b.Stats()
	if st.Journal.Bytes > 16<<10+4<<10 || st.OldestSeq <= 1 {
		t.Fatalf("retention not applied: %+v", st.Journal)
	}
	// A cursor older than retention: reset.
	s, _ := b.Subscribe("old", Filter{}, &Cursor{Seq: 1})
	if got, _, _ := s.Take(nil, 10); len(got) == 0 || got[0].Type != Reset {
		t.Fatalf("cursor beyond retention: %v", got)
	}
}

// A subscriber far behind the ring is served from the journal, losing
// nothing.
func TestJournalServesLaggingSubscriber(t *testing.T) {
	dir := t.TempDir()
	b := openTestBus(t, dir, func(o *Options) { o.RingSize = 16; o.QueueSize = 4 })
	defer b.Close()
	s, _ := b.Subscribe("slow", Filter{}, nil)
	publishN(b, 20000, "a")
	got := drainAll(t, b, s)
	if len(got) != 20000 {
		t.Fatalf("got %d events", len(got))
	}
	for i, e := range got {
		if e.Seq != uint64(i+1) || e.Type != Create {
			t.Fatalf("event %d: %v", i, e)
		}
	}
}

func TestJournalLockedAgainstSecondDaemon(t *testing.T) {
	dir := t.TempDir()
	b := openTestBus(t, dir)
	defer b.Close()
	if _, err := OpenBus(Options{Journal: JournalOptions{Dir: dir}}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v", err)
	}
}

func TestJournalBadEpochFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "epoch"), []byte("not an epoch\n"), 0o600)
	if _, err := OpenBus(Options{Journal: JournalOptions{Dir: dir}}); err == nil || !strings.Contains(err.Error(), "malformed epoch") {
		t.Fatalf("bad epoch file: %v", err)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	e := &Event{Seq: 9, Type: Rename, Path: "a/b", From: "c", Target: "t", Xattr: "x", IsDir: true, Replaced: true,
		HasAttr: true, Ino: 77, Mode: 0o100644, Size: -3, Pid: 1, Uid: 2, Gid: 3, Comm: "mv", Origin: OriginMount, Count: 4, FromSeq: 5, ToSeq: 6, Epoch: "ep", Unknown: "u"}
	e.Time = time.Unix(1700000000, 123456789)
	var d Event
	if err := d.DecodeBinary(9, e.AppendBinary(nil)); err != nil {
		t.Fatal(err)
	}
	if string(d.AppendJSON(nil)) != string(e.AppendJSON(nil)) || !d.Time.Equal(e.Time) {
		t.Fatalf("round trip:\n%s\n%s", d.AppendJSON(nil), e.AppendJSON(nil))
	}
}

// Closing a subscription while its Take reads the journal (without the
// bus lock) must neither crash nor leak the reader.
func TestJournalCloseDuringTake(t *testing.T) {
	b := openTestBus(t, t.TempDir(), func(o *Options) { o.RingSize = 16 })
	defer b.Close()
	publishN(b, 50000, "a")
	for round := 0; round < 200; round++ {
		s, _ := b.Subscribe("t", Filter{}, &Cursor{Seq: 0})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				if _, _, finished := s.Take(nil, 4096); finished {
					return
				}
			}
		}()
		s.Close()
		<-done
	}
}
