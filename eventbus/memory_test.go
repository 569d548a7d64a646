package eventbus

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// heapInUse is the live heap after a full collection.
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// deepPath is a path of about n bytes in components of 240 characters,
// unique per i so that no two events share their strings.
func deepPath(i, n int) string {
	comp := strings.Repeat("x", 239)
	var sb strings.Builder
	for sb.Len() < n-250 {
		sb.WriteString(comp)
		sb.WriteByte('/')
	}
	sb.WriteString(strconv.Itoa(i))
	return sb.String()
}

// Finding 1: the ring was bounded by event count, so events with long
// paths took the daemon to gigabytes. Memory is now bounded by
// RingBytes, whatever the events weigh, with subscribers that never read
// attached.
func TestRingBytesBoundMemory(t *testing.T) {
	const budget = 8 << 20
	b := New(Options{RingBytes: budget})
	defer b.Close()
	for range 16 {
		mustSubscribe(t, b, Filter{}, nil) // never read
	}
	base := heapInUse()
	for i := range 20_000 { // ~140 MB of paths
		b.Publish(&Event{Type: Rename, Path: deepPath(i, 3500), From: deepPath(-i, 3500), Origin: OriginMount})
	}
	grew := heapInUse() - base
	st := b.Stats()
	t.Logf("heap grew %d KiB for a budget of %d KiB; ring holds %d events, %d bytes", grew>>10, budget>>10, st.RingHeld, st.RingBytes)
	if st.RingBytes > budget {
		t.Errorf("ring holds %d bytes, over its budget of %d", st.RingBytes, budget)
	}
	// The estimate counts what the event holds; the allocator rounds up
	// a little (size classes), hence the slack.
	if grew > budget*5/4+1<<20 {
		t.Errorf("heap grew by %d bytes with a ring budget of %d", grew, budget)
	}
}

// Finding 7: thousands of subscribers that never read each cost a queue
// of their own. A subscription is now a position in the shared ring.
func TestStuckSubscribersCostLittle(t *testing.T) {
	const subs = 4000
	b := New(Options{RingBytes: 4 << 20})
	defer b.Close()
	base := heapInUse()
	for range subs {
		s, err := b.Subscribe("stuck", Filter{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	}
	for range 10_000 {
		pub(b, Write, "f")
	}
	grew := heapInUse() - base
	per := (grew - b.Stats().RingBytes) / subs
	t.Logf("%d stuck subscribers: heap grew %d KiB, %d bytes each beyond the ring", subs, grew>>10, per)
	if per > 1024 {
		t.Errorf("each stuck subscriber costs %d bytes", per)
	}
	for _, st := range b.Stats().Subscribers {
		if st.Position != 0 || st.Lag != 10_000 {
			t.Fatalf("a stuck subscriber moved: %+v", st)
		}
	}
}

// BenchmarkRingBudget publishes the heaviest events there are (renames
// with two ~3.5 KB paths) to a bus with the default ring budget and 64
// subscribers that never read, and reports the live heap against the
// budget: heap-MiB stays under budget-MiB plus a small constant however
// many events are published.
func BenchmarkRingBudget(b *testing.B) {
	bus := New(Options{})
	defer bus.Close()
	for range 64 {
		s, _ := bus.Subscribe("stuck", Filter{}, nil)
		defer s.Close()
	}
	from, to := deepPath(0, 3500), deepPath(1, 3500)
	base := heapInUse()
	b.ResetTimer()
	for i := range b.N {
		// New strings per event, as events from the filesystem have.
		bus.Publish(&Event{Type: Rename, Path: to[:len(to)-1] + strconv.Itoa(i%10), From: from[:len(from)-1] + strconv.Itoa(i%10), Origin: OriginMount})
	}
	b.StopTimer()
	st := bus.Stats()
	b.ReportMetric(float64(heapInUse()-base)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(st.RingBytesMax)/(1<<20), "budget-MiB")
	b.ReportMetric(float64(st.RingHeld), "events-held")
}

// BenchmarkPublishStuckSubscribers is what one Publish costs with 1,024
// subscribers (the default connection cap) that never read: it must not
// grow with how far behind they are.
func BenchmarkPublishStuckSubscribers(b *testing.B) {
	bus := New(Options{RingBytes: 16 << 20})
	defer bus.Close()
	for range 1024 {
		s, _ := bus.Subscribe("stuck", Filter{}, nil)
		defer s.Close()
	}
	e := Event{Type: Write, Path: "dir/file", Origin: OriginMount}
	b.ResetTimer()
	for range b.N {
		x := e
		bus.Publish(&x)
	}
}
