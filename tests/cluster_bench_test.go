//go:build linux

package tests

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/internal/natstest"
)

// BenchmarkClusterLatency: an operation returns on host h1 → the event
// reaches a subscriber of host h2 (two mounts of one SOURCE, inotify
// watchers, one local NATS node). Reports p50 and p99 in µs.
func BenchmarkClusterLatency(b *testing.B) {
	srv := natstest.Run(b)
	_, ms, ss := hosts(b, srv.URL, 2)
	must(b, os.Mkdir(ms[0].path("lat"), 0o755))
	const n = 2000
	b.ResetTimer()
	for range b.N {
		lat := make([]time.Duration, 0, n)
		for i := range n {
			name := fmt.Sprintf("lat/d%d-%d", b.N, i)
			must(b, os.Mkdir(ms[0].path(name), 0o755))
			done := time.Now()
			ss[1].until(name, func(evs []event.Event) bool {
				return len(evs) > 0 && evs[len(evs)-1].Path == name && evs[len(evs)-1].Type == event.Mkdir
			})
			lat = append(lat, time.Since(done))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[n/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[n*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkPollDelay: what the cross-host latency replaces, the poll
// backend's delay between a change on SOURCE and its event (default
// interval 2 s). Reports the median and maximum of 5 changes in ms.
func BenchmarkPollDelay(b *testing.B) {
	m := newMount(b, underneath("poll"))
	c := followHost(b, m)
	const n = 5
	b.ResetTimer()
	for range b.N {
		var lat []time.Duration
		for i := range n {
			name := fmt.Sprintf("p%d-%d", b.N, i)
			must(b, os.Mkdir(m.srcPath(name), 0o755))
			done := time.Now()
			c.until(name, func(evs []event.Event) bool {
				return slices.ContainsFunc(evs, func(e event.Event) bool { return e.Path == name })
			})
			lat = append(lat, time.Since(done))
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[n/2].Milliseconds()), "p50-ms")
		b.ReportMetric(float64(lat[n-1].Milliseconds()), "max-ms")
	}
}
