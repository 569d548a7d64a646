package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/notifyfs/notifyfs/kqshim"
)

// busCollector reads the bus's and the watcher's figures at scrape time:
// they are kept by their owners anyway, and copying them on every change
// would cost the publishing path.
type busCollector Metrics

var (
	descSeq       = prometheus.NewDesc("notifyfs_seq", "The latest seq published.", nil, nil)
	descLag       = prometheus.NewDesc("notifyfs_subscriber_lag", "Events published and not yet delivered to the subscriber.", []string{"subscriber", "id"}, nil)
	descQueued    = prometheus.NewDesc("notifyfs_subscriber_queued", "Events waiting in the subscriber's queue.", []string{"subscriber", "id"}, nil)
	descLost      = prometheus.NewDesc("notifyfs_subscriber_lost_total", "Events the subscriber lost (reported to it as overflow).", []string{"subscriber", "id"}, nil)
	descDropped   = prometheus.NewDesc("notifyfs_events_dropped_total", "Events lost by subscribers since the daemon started, departed ones included.", nil, nil)
	descJBytes    = prometheus.NewDesc("notifyfs_journal_bytes", "Bytes the journal holds on disk.", nil, nil)
	descJSegs     = prometheus.NewDesc("notifyfs_journal_segments", "Segment files of the journal.", nil, nil)
	descUEvents   = prometheus.NewDesc("notifyfs_underneath_events_total", "Changes made underneath the mount, bridged into the stream.", []string{"backend"}, nil)
	descUEchoes   = prometheus.NewDesc("notifyfs_underneath_echoes_dropped_total", "Kernel notes of the mount's own changes, recognised and dropped.", []string{"backend"}, nil)
	descURescans  = prometheus.NewDesc("notifyfs_underneath_rescans_total", "Subtrees re-read because the kernel bridge lost track.", []string{"backend"}, nil)
	descUOverflow = prometheus.NewDesc("notifyfs_underneath_overflows_total", "Overflows of the kernel's notification queue.", []string{"backend"}, nil)
)

func (c *busCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSeq, descLag, descQueued, descLost, descDropped, descJBytes, descJSegs,
		descUEvents, descUEchoes, descURescans, descUOverflow} {
		ch <- d
	}
}

func (c *busCollector) Collect(ch chan<- prometheus.Metric) {
	if c.bus == nil {
		return
	}
	st := c.bus.Stats()
	ch <- prometheus.MustNewConstMetric(descSeq, prometheus.GaugeValue, float64(st.Seq))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped))
	for _, s := range st.Subscribers {
		id := strconv.FormatUint(s.ID, 10)
		ch <- prometheus.MustNewConstMetric(descLag, prometheus.GaugeValue, float64(s.Lag), s.Name, id)
		ch <- prometheus.MustNewConstMetric(descQueued, prometheus.GaugeValue, float64(s.Queued), s.Name, id)
		ch <- prometheus.MustNewConstMetric(descLost, prometheus.CounterValue, float64(s.Lost), s.Name, id)
	}
	if j := st.Journal; j != nil {
		ch <- prometheus.MustNewConstMetric(descJBytes, prometheus.GaugeValue, float64(j.Bytes))
		ch <- prometheus.MustNewConstMetric(descJSegs, prometheus.GaugeValue, float64(j.Segments))
	}
	if c.underneath == nil {
		return
	}
	u := c.underneath()
	if u == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descUEvents, prometheus.CounterValue, float64(u.Events), u.Backend)
	ch <- prometheus.MustNewConstMetric(descUEchoes, prometheus.CounterValue, float64(u.EchoesDropped), u.Backend)
	ch <- prometheus.MustNewConstMetric(descURescans, prometheus.CounterValue, float64(u.Rescans), u.Backend)
	ch <- prometheus.MustNewConstMetric(descUOverflow, prometheus.CounterValue, float64(overflows(u)), u.Backend)
}

// overflows reads the kernel queue overflows from the backends that
// have a queue.
func overflows(u *kqshim.Stats) int64 {
	switch d := u.Detail.(type) {
	case kqshim.FanotifyStats:
		return d.Overflows
	case kqshim.InotifyStats:
		return d.Overflows
	}
	return 0
}
