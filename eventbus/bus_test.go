package eventbus

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func newTestBus(t testing.TB, ring, queue int) *Bus {
	t.Helper()
	b := New(Options{RingSize: ring, QueueSize: queue, Epoch: "test-epoch"})
	t.Cleanup(func() { b.Close() })
	return b
}

func mustSubscribe(t testing.TB, b *Bus, f Filter, since *Cursor) *Subscription {
	t.Helper()
	s, err := b.Subscribe(t.Name(), f, since)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func pub(b *Bus, typ Type, p string) uint64 {
	return b.Publish(&Event{Type: typ, Path: p, Origin: OriginMount})
}

// drain takes everything the subscription has up to the bus's current
// seq (or until done).
func drain(t testing.TB, s *Subscription) []*Event {
	t.Helper()
	target := s.bus.Seq()
	var out []*Event
	for i := 0; ; i++ {
		var pos uint64
		var done bool
		out, pos, done = s.Take(out, len(out)+100)
		if done || pos >= target {
			return out
		}
		if i > 1e6 {
			t.Fatalf("drain: stuck at pos %d, target %d", pos, target)
		}
	}
}

// checkSeqs verifies that evs are exactly the change events first..last.
func checkSeqs(t testing.TB, evs []*Event, first, last uint64) {
	t.Helper()
	want := first
	for _, e := range evs {
		if ControlTypes.Has(e.Type) {
			t.Fatalf("unexpected %v event %+v", e.Type, e)
		}
		if e.Seq != want {
			t.Fatalf("got seq %d, want %d", e.Seq, want)
		}
		want++
	}
	if want != last+1 {
		t.Fatalf("got events up to %d, want up to %d", want-1, last)
	}
}

func TestSeqGapFreeConcurrentPublishers(t *testing.T) {
	const publishers, each = 8, 2000
	b := newTestBus(t, publishers*each, publishers*each)
	s := mustSubscribe(t, b, Filter{}, nil)
	var wg sync.WaitGroup
	got := make([][]uint64, publishers)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				got[p] = append(got[p], pub(b, Write, fmt.Sprintf("p%d/%d", p, i)))
			}
		}()
	}
	wg.Wait()
	seen := make([]bool, publishers*each+1)
	for _, seqs := range got {
		for i, q := range seqs {
			if i > 0 && q <= seqs[i-1] {
				t.Fatalf("one publisher got seq %d after %d", q, seqs[i-1])
			}
			if q == 0 || q > publishers*each || seen[q] {
				t.Fatalf("seq %d out of range or assigned twice", q)
			}
			seen[q] = true
		}
	}
	if b.Seq() != publishers*each {
		t.Fatalf("Seq = %d", b.Seq())
	}
	checkSeqs(t, drain(t, s), 1, publishers*each)
}

func TestRingWraparound(t *testing.T) {
	b := newTestBus(t, 8, 8)
	if st := b.Stats(); st.OldestSeq != 1 || st.Seq != 0 {
		t.Fatalf("empty bus: %+v", st)
	}
	for i := range 20 {
		pub(b, Create, fmt.Sprint(i))
	}
	for q := uint64(1); q <= 21; q++ {
		e := b.ring.get(q)
		if held := q >= 13 && q <= 20; held != (e != nil) || (held && e.Seq != q) {
			t.Fatalf("ring.get(%d) = %v", q, e)
		}
	}
	if st := b.Stats(); st.OldestSeq != 13 || st.Seq != 20 || st.RingSize != 8 {
		t.Fatalf("stats %+v", st)
	}
	// A cursor right before the oldest held event is served in full.
	s := mustSubscribe(t, b, Filter{}, &Cursor{Epoch: b.Epoch(), Seq: 12})
	checkSeqs(t, drain(t, s), 13, 20)
}

// A cursor resumed while publishers run gets every event after it exactly
// once, across the seam between ring and live queue, with the queue
// small enough to overflow into the ring repeatedly.
func TestCursorSeamConcurrent(t *testing.T) {
	for _, queue := range []int{4, 64, 100000} {
		t.Run(fmt.Sprint("queue=", queue), func(t *testing.T) {
			b := newTestBus(t, 1<<17, queue)
			for i := range 1000 {
				pub(b, Create, fmt.Sprint(i))
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for p := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						pub(b, Write, fmt.Sprintf("w%d/%d", p, i))
						if i%64 == 0 {
							time.Sleep(10 * time.Microsecond)
						}
					}
				}()
			}
			time.Sleep(time.Millisecond)
			s := mustSubscribe(t, b, Filter{}, &Cursor{Epoch: b.Epoch(), Seq: 500})
			var got []*Event
			deadline := time.After(10 * time.Second)
			for len(got) < 20000 {
				var pos uint64
				got, pos, _ = s.Take(got, len(got)+37)
				if n := len(got); n > 0 && pos < got[n-1].Seq {
					t.Fatalf("pos %d behind last event %d", pos, got[n-1].Seq)
				}
				select {
				case <-s.Ready():
				case <-deadline:
					t.Fatal("timed out")
				}
			}
			close(stop)
			wg.Wait()
			got = append(got, drain(t, s)...)
			checkSeqs(t, got, 501, b.Seq())
		})
	}
}

// A subscriber that does not read holds no events of its own: what it
// has not taken is the shared ring's.
func TestSubscriberReadsSharedRing(t *testing.T) {
	b := newTestBus(t, 64, 4)
	s := mustSubscribe(t, b, Filter{}, nil)
	for i := range 30 {
		pub(b, Create, fmt.Sprint(i))
	}
	if st := b.Stats().Subscribers[0]; st.Catching || st.Queued != 30 || st.Position != 0 || st.Lag != 30 {
		t.Fatalf("subscriber stats %+v", st)
	}
	got, pos, _ := s.Take(nil, 10)
	checkSeqs(t, got, 1, 10)
	if pos != 10 {
		t.Fatalf("pos %d", pos)
	}
	got = drain(t, s)
	checkSeqs(t, got, 11, 30)
	// Caught up: back on the live queue.
	if st := b.Stats().Subscribers[0]; st.Catching || st.Lost != 0 {
		t.Fatalf("subscriber stats %+v", st)
	}
	pub(b, Mkdir, "d")
	got, pos, _ = s.Take(nil, 10)
	checkSeqs(t, got, 31, 31)
	if pos != 31 || b.Stats().Dropped != 0 {
		t.Fatalf("pos %d, stats %+v", pos, b.Stats())
	}
}

func TestOverflowExactRange(t *testing.T) {
	b := newTestBus(t, 8, 4)
	s := mustSubscribe(t, b, Filter{}, nil)
	other := mustSubscribe(t, b, Filter{Prefixes: []string{"odd"}}, nil)
	for i := 1; i <= 20; i++ {
		p := "even"
		if i%2 == 1 {
			p = "odd"
		}
		pub(b, Create, p)
	}
	got := drain(t, s)
	// 1..12 left the ring of 8 before it read; 13..20 from the ring.
	if len(got) != 1+8 {
		t.Fatalf("got %d events", len(got))
	}
	if o := got[0]; o.Type != Overflow || o.FromSeq != 1 || o.ToSeq != 12 || o.Seq != 0 {
		t.Fatalf("overflow event %+v", o)
	}
	checkSeqs(t, got[1:], 13, 20)

	// The filtered subscriber: odd seqs only, told of the same range.
	got = drain(t, other)
	var seqs []uint64
	overflows := 0
	for _, e := range got {
		if e.Type == Overflow {
			overflows++
			if e.FromSeq != 1 || e.ToSeq != 12 {
				t.Fatalf("overflow %+v", e)
			}
			continue
		}
		seqs = append(seqs, e.Seq)
	}
	if overflows != 1 || fmt.Sprint(seqs) != "[13 15 17 19]" {
		t.Fatalf("overflows %d, seqs %v", overflows, seqs)
	}

	st := b.Stats()
	if st.Dropped != 12+12 || st.Subscribers[0].Lost != 12 || st.Subscribers[1].Lost != 12 {
		t.Fatalf("stats %+v", st)
	}
	s.Close()
	other.Close()
	if st := b.Stats(); st.Dropped != 24 || len(st.Subscribers) != 0 {
		t.Fatalf("after close: %+v", st)
	}
}

func TestCursorReset(t *testing.T) {
	b := newTestBus(t, 8, 8)
	for range 20 {
		pub(b, Create, "x")
	}
	for name, c := range map[string]func() Cursor{
		"foreign epoch": func() Cursor { return Cursor{Epoch: "other", Seq: b.Seq() - 1} },
		"future":        func() Cursor { return Cursor{Epoch: b.Epoch(), Seq: b.Seq() + 1} },
		"too old":       func() Cursor { return Cursor{Epoch: b.Epoch(), Seq: b.Seq() - 9} },
		"zero too old":  func() Cursor { return Cursor{Seq: 0} },
	} {
		t.Run(name, func(t *testing.T) {
			s := mustSubscribe(t, b, Filter{}, new(c()))
			got, pos, _ := s.Take(nil, 10)
			if len(got) != 1 || got[0].Type != Reset || got[0].Epoch != b.Epoch() || got[0].ToSeq != b.Seq() || pos != b.Seq() {
				t.Fatalf("got %v, pos %d", got, pos)
			}
			// Continues live.
			q := pub(b, Create, "y")
			got, pos, _ = s.Take(nil, 10)
			if len(got) != 1 || got[0].Seq != q || pos != q {
				t.Fatalf("after reset: %v, pos %d", got, pos)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		// An empty epoch means the current one; a cursor at the head is
		// served with nothing to catch up.
		s := mustSubscribe(t, b, Filter{}, &Cursor{Seq: b.Seq()})
		if got, pos, _ := s.Take(nil, 10); len(got) != 0 || pos != b.Seq() {
			t.Fatalf("got %v, pos %d", got, pos)
		}
	})
}

func TestTakePos(t *testing.T) {
	b := newTestBus(t, 64, 64)
	s := mustSubscribe(t, b, Filter{Prefixes: []string{"a"}}, nil)
	if got, pos, done := s.Take(nil, 10); len(got) != 0 || pos != 0 || done {
		t.Fatal(got, pos, done)
	}
	pub(b, Create, "b/1")
	pub(b, Create, "b/2")
	qa := pub(b, Create, "a/1")
	pub(b, Create, "b/3")
	got, pos, _ := s.Take(nil, 10)
	if len(got) != 1 || got[0].Seq != qa || pos != 4 {
		t.Fatalf("got %v, pos %d", got, pos)
	}
	pub(b, Create, "b/4")
	if got, pos, _ := s.Take(nil, 10); len(got) != 0 || pos != 5 {
		t.Fatalf("got %v, pos %d", got, pos)
	}
	// With max reached, pos stops before the first event not handed out.
	pub(b, Create, "a/2")
	pub(b, Create, "b/5")
	pub(b, Create, "a/3")
	got, pos, _ = s.Take(nil, 1)
	if len(got) != 1 || got[0].Seq != 6 || pos != 7 {
		t.Fatalf("got %v, pos %d", got, pos)
	}
	got, pos, _ = s.Take(nil, 1)
	if len(got) != 1 || got[0].Seq != 8 || pos != 8 {
		t.Fatalf("got %v, pos %d", got, pos)
	}

	// Reading the ring (resumed cursor), filtered-out events are covered too.
	r := mustSubscribe(t, b, Filter{Prefixes: []string{"a"}}, &Cursor{Seq: 0})
	got, pos, _ = r.Take(nil, 1)
	if len(got) != 1 || got[0].Seq != 3 || pos != 5 { // 4 and 5 are b/...: covered

		t.Fatalf("ring: got %v, pos %d", got, pos)
	}
	got, pos, _ = r.Take(nil, 10)
	if len(got) != 2 || pos != 8 {
		t.Fatalf("ring: got %v, pos %d", got, pos)
	}
}

// A lagging subscription whose filter rejects everything examines a
// bounded part of the ring per Take, and says there is more.
func TestRingScanBounded(t *testing.T) {
	b := newTestBus(t, 3*ringScanLimit, 4)
	for range 2*ringScanLimit + 10 {
		pub(b, Create, "b")
	}
	s := mustSubscribe(t, b, Filter{Prefixes: []string{"a"}}, &Cursor{Seq: 0})
	<-s.Ready()
	got, pos, _ := s.Take(nil, 10)
	if len(got) != 0 || pos != ringScanLimit {
		t.Fatalf("got %v, pos %d", got, pos)
	}
	select {
	case <-s.Ready():
	default:
		t.Fatal("Ready not signalled with more to read")
	}
	if got := drain(t, s); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
	if st := b.Stats().Subscribers[0]; st.Catching || st.Position != b.Seq() {
		t.Fatalf("stats %+v", st)
	}
}

func TestCloseUnmountThenDone(t *testing.T) {
	b := New(Options{RingSize: 16, QueueSize: 2})
	live := mustSubscribe(t, b, Filter{}, nil)
	lagging := mustSubscribe(t, b, Filter{Types: MaskOf(Mkdir)}, nil)
	for range 3 {
		pub(b, Mkdir, "d")
	}
	if got, _, _ := live.Take(nil, 2); len(got) != 2 { // queue size 2, the third is in the ring
		t.Fatalf("got %v", got)
	}
	b.Close()
	b.Close() // idempotent
	if q := pub(b, Create, "late"); q != 0 {
		t.Fatalf("Publish after Close = %d", q)
	}
	if _, err := b.Subscribe("late", Filter{}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	for _, s := range []*Subscription{live, lagging} {
		<-s.Ready()
		var all []*Event
		for i := 0; ; i++ {
			got, _, done := s.Take(nil, 1) // done may come with the last events
			all = append(all, got...)
			if done {
				break
			}
			if i > 100 {
				t.Fatal("never done")
			}
		}
		last := all[len(all)-1]
		if last.Type != Unmount || last.Seq != 4 {
			t.Fatalf("last event %+v", last)
		}
		for _, e := range all[:len(all)-1] {
			if e.Type != Mkdir {
				t.Fatalf("event %+v", e)
			}
		}
		if _, _, done := s.Take(nil, 10); !done {
			t.Fatal("not done any more")
		}
	}
}

func TestSubscriptionClose(t *testing.T) {
	b := newTestBus(t, 16, 16)
	s := mustSubscribe(t, b, Filter{}, nil)
	<-s.Ready()
	pub(b, Create, "a")
	pub(b, Create, "b")
	s.Close()
	s.Close()
	select {
	case <-s.Ready():
	default:
		t.Fatal("Close did not signal Ready")
	}
	pub(b, Create, "c")
	if got, pos, done := s.Take(nil, 10); len(got) != 0 || pos != 0 || !done {
		t.Fatalf("Take after Close: %v %d %v", got, pos, done)
	}
	if n := len(b.Stats().Subscribers); n != 0 {
		t.Fatalf("%d subscribers", n)
	}
}

func TestWantsOptIn(t *testing.T) {
	b := newTestBus(t, 16, 16)
	if b.Wants(Open) || b.Wants(Close) || !b.Wants(Create) || !b.Wants(CloseWrite) {
		t.Fatal("initial wants")
	}
	s1 := mustSubscribe(t, b, Filter{Types: MaskOf(Open)}, nil)
	if !b.Wants(Open) || b.Wants(Close) {
		t.Fatal("after subscribing to open")
	}
	s2 := mustSubscribe(t, b, Filter{Types: DefaultTypes | MaskOf(Open, Close)}, nil)
	s1.Close()
	if !b.Wants(Open) || !b.Wants(Close) {
		t.Fatal("after closing one")
	}
	s2.Close()
	if b.Wants(Open) || b.Wants(Close) || !b.Wants(Create) {
		t.Fatal("after closing both")
	}
	// A default subscriber never receives opt-in events.
	s3 := mustSubscribe(t, b, Filter{}, nil)
	pub(b, Open, "x")
	if got, _, _ := s3.Take(nil, 10); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}

func TestStartSeq(t *testing.T) {
	b := newTestBus(t, 16, 16)
	s0 := mustSubscribe(t, b, Filter{}, nil)
	pub(b, Create, "a")
	pub(b, Create, "b")
	s2 := mustSubscribe(t, b, Filter{}, nil)
	q := pub(b, Create, "c")
	if s0.StartSeq() != 0 || s2.StartSeq() != 2 {
		t.Fatal(s0.StartSeq(), s2.StartSeq())
	}
	if got, _, _ := s2.Take(nil, 10); len(got) != 1 || got[0].Seq != q || got[0].Seq != s2.StartSeq()+1 {
		t.Fatalf("got %v", got)
	}
	if s0.ID() == s2.ID() {
		t.Fatal("IDs not unique")
	}
}

func TestStatsConcurrent(t *testing.T) {
	b := newTestBus(t, 1024, 8)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			s, err := b.Subscribe("x", Filter{}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			pub(b, Create, "a")
			s.Take(nil, 3)
			s.Close()
		}
	}()
	go func() {
		defer wg.Done()
		for range 2000 {
			st := b.Stats()
			for _, ss := range st.Subscribers {
				if ss.Position > st.Seq || ss.Lag != st.Seq-ss.Position {
					t.Errorf("inconsistent %+v in %+v", ss, st)
				}
			}
		}
		close(stop)
	}()
	wg.Wait()
}

func TestSubscribeValidates(t *testing.T) {
	b := newTestBus(t, 16, 16)
	if _, err := b.Subscribe("bad", Filter{Globs: []string{"a/[b"}}, nil); err == nil {
		t.Fatal("bad glob accepted")
	}
	prefixes := []string{"/a/./b/"}
	s := mustSubscribe(t, b, Filter{Prefixes: prefixes}, nil)
	if prefixes[0] != "/a/./b/" {
		t.Fatalf("caller's slice modified: %q", prefixes)
	}
	pub(b, Create, "a/b/c")
	if got, _, _ := s.Take(nil, 10); len(got) != 1 {
		t.Fatalf("got %v", got)
	}
}
