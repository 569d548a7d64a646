package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/kqshim"
)

// Metrics is one daemon's metrics: made before the daemon starts (so
// that its FUSE handler and journal can be instrumented), attached to
// its bus once it runs, served on a listener.
type Metrics struct {
	reg      *prometheus.Registry
	requests [opCount]prometheus.Observer
	syncs    prometheus.Histogram
	events   *prometheus.CounterVec

	bus        *eventbus.Bus
	underneath func() *kqshim.Stats

	counted  atomic.Uint64 // every event with seq <= counted is counted
	mu       sync.Mutex
	progress chan struct{} // closed and replaced when counted moves
	done     chan struct{} // closed when the counting subscriber ends
}

// New makes the metrics and registers them.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), progress: make(chan struct{}), done: make(chan struct{})}
	req := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "notifyfs_fuse_request_duration_seconds",
		Help: "Time the daemon took to handle a FUSE request, by operation.",
		// From a cached lookup (microseconds) to a slow SOURCE (seconds).
		Buckets: prometheus.ExponentialBuckets(5e-6, 4, 11),
	}, []string{"op"})
	for i := range m.requests {
		m.requests[i] = req.WithLabelValues(opNames[i])
	}
	m.syncs = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "notifyfs_journal_sync_duration_seconds",
		Help:    "Time one fsync of the journal took.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 4, 9),
	})
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "notifyfs_events_total",
		Help: "Events published, by type and origin (mount: through the mount; backing: underneath it; remote: another host).",
	}, []string{"type", "origin"})
	m.reg.MustRegister(req, m.syncs, m.events, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), (*busCollector)(m))
	return m
}

// Instrument wraps a FUSE request handler so that each request's time is
// observed (daemon.Config.Instrument).
func (m *Metrics) Instrument(raw fuse.RawFileSystem) fuse.RawFileSystem {
	return &timedFS{RawFileSystem: raw, m: m}
}

// ObserveJournalSync records one fsync of the journal
// (eventbus.JournalOptions.OnSync).
func (m *Metrics) ObserveJournalSync(d time.Duration) { m.syncs.Observe(d.Seconds()) }

// Attach starts counting the events of bus; underneath, if not nil,
// returns the watcher's figures. It returns an error if the bus is
// already closed.
func (m *Metrics) Attach(bus *eventbus.Bus, underneath func() *kqshim.Stats) error {
	sub, err := bus.Subscribe("metrics", eventbus.Filter{}, nil)
	if err != nil {
		return err
	}
	m.bus, m.underneath = bus, underneath
	m.counted.Store(sub.StartSeq())
	go m.count(sub)
	return nil
}

// count counts sub's events until the bus closes.
func (m *Metrics) count(sub *eventbus.Subscription) {
	defer close(m.done)
	// Counters resolved once per (type, origin): a label lookup per
	// event would cost more than the count.
	var cache [256][4]prometheus.Counter
	var buf []*eventbus.Event
	for {
		var pos uint64
		var finished bool
		buf, pos, finished = sub.Take(buf[:0], 1024)
		for _, e := range buf {
			if event.ControlTypes.Has(e.Type) {
				continue
			}
			c := &cache[e.Type][e.Origin&3]
			if *c == nil {
				*c = m.events.WithLabelValues(e.Type.String(), e.Origin.String())
			}
			(*c).Inc()
		}
		if pos > m.counted.Load() {
			m.counted.Store(pos)
			m.mu.Lock()
			close(m.progress)
			m.progress = make(chan struct{})
			m.mu.Unlock()
		}
		if finished {
			return
		}
		if len(buf) == 0 {
			<-sub.Ready()
		}
	}
}

// caughtUp waits until every event published before the call is
// counted, at most for limit.
func (m *Metrics) caughtUp(limit time.Duration) {
	if m.bus == nil {
		return
	}
	target := m.bus.Seq()
	timeout := time.NewTimer(limit)
	defer timeout.Stop()
	for m.counted.Load() < target {
		m.mu.Lock()
		p := m.progress
		m.mu.Unlock()
		if m.counted.Load() >= target {
			return
		}
		select {
		case <-p:
		case <-m.done:
			return
		case <-timeout.C:
			return
		}
	}
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.caughtUp(time.Second)
		h.ServeHTTP(w, r)
	})
}

// Serve serves /metrics on l until Close is called on the returned
// server.
func (m *Metrics) Serve(l net.Listener) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener failed; the mount goes on without metrics
		}
	}()
	return srv
}

// Shutdown stops srv, letting a scrape in progress finish.
func Shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}

// timedFS times every request of the wrapped handler.
type timedFS struct {
	fuse.RawFileSystem
	m *Metrics
}

func (t *timedFS) observe(op int, start time.Time) {
	t.m.requests[op].Observe(time.Since(start).Seconds())
}
