package eventbus

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func typicalCreate(p string) *Event {
	return &Event{
		Type: Create, Path: p, HasAttr: true, Ino: 123456, Mode: 0o100644,
		Pid: 4242, Uid: 1000, Gid: 1000, Comm: "touch", Origin: OriginMount,
	}
}

func BenchmarkPublish(b *testing.B) {
	for _, n := range []int{0, 1, 10} {
		b.Run(fmt.Sprint("subs=", n), func(b *testing.B) {
			bus := New(Options{})
			wg := startDrainers(b, bus, n, nil)
			// Events are built outside the timed loop's cost as far as
			// possible: one template copied per publish.
			tmpl := typicalCreate("src/pkg/file.go")
			tmpl.Time = time.Unix(1, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				e := new(Event)
				*e = *tmpl
				bus.Publish(e)
			}
			b.StopTimer()
			bus.Close()
			wg.Wait()
		})
	}
}

// startDrainers subscribes n goroutines that take everything until the
// bus closes, counting what they take in taken (if not nil). Wait on the
// returned group after bus.Close.
func startDrainers(b *testing.B, bus *Bus, n int, taken *atomic.Int64) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range n {
		s, err := bus.Subscribe("bench", Filter{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer s.Close()
			buf := make([]*Event, 0, 1024)
			for range s.Ready() {
				var done bool
				buf, _, done = s.Take(buf[:0], 1024)
				if taken != nil {
					taken.Add(int64(len(buf)))
				}
				clear(buf)
				if done {
					return
				}
			}
		}()
	}
	return &wg
}

func BenchmarkTakeBatch(b *testing.B) {
	const batch = 256
	for _, mode := range []string{"queue", "ring"} {
		b.Run(mode, func(b *testing.B) {
			queue := batch
			if mode == "ring" {
				queue = 1 // everything after the first event is read from the ring
			}
			bus := New(Options{RingSize: 4 * batch, QueueSize: queue})
			defer bus.Close()
			s, err := bus.Subscribe("bench", Filter{}, nil)
			if err != nil {
				b.Fatal(err)
			}
			evs := make([]Event, batch)
			buf := make([]*Event, 0, batch)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				for i := range evs {
					evs[i] = Event{Type: Write, Path: "f", Time: time.Unix(1, 0)}
					bus.Publish(&evs[i])
				}
				b.StartTimer()
				buf, _, _ = s.Take(buf[:0], batch)
				if len(buf) != batch {
					b.Fatalf("took %d", len(buf))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
		})
	}
}
