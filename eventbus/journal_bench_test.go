package eventbus

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchPath is a typical relative path (~30 bytes).
const benchPath = "home/user/project/src/main.go"

func reportEventsPerSec(b *testing.B, events int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(events)/s, "events/s")
	}
}

func openBenchBus(b *testing.B, o Options) *Bus {
	b.Helper()
	if o.Journal.Dir == "" {
		o.Journal.Dir = b.TempDir()
	}
	bus, err := OpenBus(o)
	if err != nil {
		b.Fatal(err)
	}
	return bus
}

// publishTemplate publishes a copy of tmpl (the bus owns what it is
// given).
func publishTemplate(bus *Bus, tmpl *Event) {
	e := new(Event)
	*e = *tmpl
	bus.Publish(e)
}

func BenchmarkJournalAppend(b *testing.B) {
	tmpl := typicalCreate(benchPath)
	for _, c := range []struct {
		name       string
		sync       SyncPolicy
		publishers int
	}{
		{"interval", SyncInterval, 1},
		{"always/publishers=1", SyncAlways, 1},
		{"always/publishers=8", SyncAlways, 8},
		{"never", SyncNever, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			bus := openBenchBus(b, Options{Journal: JournalOptions{Sync: c.sync}})
			b.ReportAllocs()
			b.ResetTimer()
			if c.publishers == 1 {
				for range b.N {
					publishTemplate(bus, tmpl)
				}
			} else {
				var wg sync.WaitGroup
				var n atomic.Int64
				for range c.publishers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for n.Add(1) <= int64(b.N) {
							publishTemplate(bus, tmpl)
						}
					}()
				}
				wg.Wait()
			}
			b.StopTimer()
			reportEventsPerSec(b, b.N)
			if st := bus.Stats(); st.Journal.Error != "" {
				b.Fatal(st.Journal.Error)
			}
			bus.Close()
		})
	}
}

// replayEvents is how many events BenchmarkJournalReplay reads.
const replayEvents = 500_000

func BenchmarkJournalReplay(b *testing.B) {
	dir := b.TempDir()
	fill := openBenchBus(b, Options{RingSize: 1024, Journal: JournalOptions{Dir: dir, Sync: SyncNever}})
	tmpl := typicalCreate(benchPath)
	tmpl.Time = time.Now()
	for range replayEvents {
		publishTemplate(fill, tmpl)
	}
	if err := fill.Close(); err != nil {
		b.Fatal(err)
	}
	// A restarted daemon: the ring is empty (and small), everything is
	// read from the journal.
	bus := openBenchBus(b, Options{RingSize: 1024, Journal: JournalOptions{Dir: dir}})
	defer bus.Close()
	b.Run(fmt.Sprintf("events=%d", replayEvents), func(b *testing.B) {
		target := bus.Seq()
		buf := make([]*Event, 0, 4096)
		b.ReportAllocs()
		for b.Loop() {
			s, err := bus.Subscribe("replay", Filter{}, &Cursor{Seq: 0})
			if err != nil {
				b.Fatal(err)
			}
			got := 0
			for {
				var pos uint64
				buf, pos, _ = s.Take(buf[:0], 4096)
				got += len(buf)
				clear(buf)
				if pos >= target {
					break
				}
			}
			s.Close()
			if got != replayEvents {
				b.Fatalf("replayed %d events, want %d", got, replayEvents)
			}
		}
		reportEventsPerSec(b, b.N*replayEvents)
	})
}

func BenchmarkPublishFanout(b *testing.B) {
	tmpl := typicalCreate(benchPath)
	tmpl.Time = time.Unix(1, 0)
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprint("journal/subs=", n), func(b *testing.B) {
			bus := openBenchBus(b, Options{})
			var taken atomic.Int64
			wg := startDrainers(b, bus, n, &taken)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				publishTemplate(bus, tmpl)
			}
			b.StopTimer()
			reportEventsPerSec(b, b.N)
			bus.Close()
			wg.Wait()
			// Every subscriber got every event (and the unmount), from
			// its queue, the ring or the journal.
			if got, want := taken.Load(), int64(n*(b.N+1)); got != want {
				b.Fatalf("subscribers took %d events, want %d", got, want)
			}
		})
	}
}
