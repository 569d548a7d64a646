package main

import (
	"fmt"
	"net"
	"net/http"

	"github.com/spf13/pflag"

	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/internal/metrics"
	"github.com/notifyfs/notifyfs/kqshim"
)

// metricsFlag is mount's --metrics ADDR.
type metricsFlag struct {
	addr string
	l    net.Listener
	m    *metrics.Metrics
	srv  *http.Server
}

func (f *metricsFlag) addFlag(set *pflag.FlagSet) {
	set.StringVar(&f.addr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464)")
}

// prepare listens on the address before the daemon starts, so that a
// busy address fails the mount rather than leave it without metrics,
// and instruments the daemon's FUSE handler and journal.
func (f *metricsFlag) prepare(cfg *daemon.Config) error {
	if f.addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("--metrics: %w", err)
	}
	f.l, f.m = l, metrics.New()
	cfg.Instrument = f.m.Instrument
	cfg.Bus.Journal.OnSync = f.m.ObserveJournalSync
	return nil
}

// start counts the running daemon's events and serves the metrics.
func (f *metricsFlag) start(d *daemon.Daemon) error {
	if f.m == nil {
		return nil
	}
	if err := f.m.Attach(d.Bus(), func() *kqshim.Stats { return d.Status().Underneath }); err != nil {
		return err
	}
	f.srv = f.m.Serve(f.l)
	return nil
}

// stop ends the metrics server, or closes the listener it never used.
func (f *metricsFlag) stop() {
	switch {
	case f.srv != nil:
		metrics.Shutdown(f.srv)
	case f.l != nil:
		f.l.Close()
	}
}
