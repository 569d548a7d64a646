package kqshim

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// pollBackend scans SOURCE every interval and reports the difference
// from the previous scan (scan.go). It is the backend of last resort, and
// the right one for network filesystems, whose local kernel never hears
// of other clients' changes. A scan costs one readdir per directory and
// one stat per object, every interval; changes made and undone between
// two scans leave no trace.
type pollBackend struct {
	s        *sink
	interval time.Duration
	last     tree
	first    tree // the scan taken at open, never changed: the offline index compares with it
	// pathInodes: SOURCE's inode numbers may follow paths (diffOf).
	pathInodes bool
	// fresh: SOURCE is on a network filesystem; scans ask its server.
	fresh   bool
	objects atomic.Int64 // len(last), for status
	stop    chan struct{}
	poked   chan struct{}
}

func openPoll(s *sink, opts Options) (backend, error) {
	fresh := NetworkFS(s.cfg.Source) != ""
	t, err := scanWithRoot(s.rootfd, nil, fresh)
	if err != nil {
		return nil, err
	}
	p := &pollBackend{s: s, interval: opts.PollInterval, last: t, first: t, pathInodes: inodesFollowPaths(s.cfg.Source), fresh: fresh, stop: make(chan struct{}), poked: make(chan struct{}, 1)}
	p.objects.Store(int64(len(t)))
	return p, nil
}

// run scans an interval after the previous scan ended (not on a fixed
// tick: a scan longer than the interval must not run back to back), and
// at once when a flush asks.
func (p *pollBackend) run() {
	next := time.NewTimer(p.interval)
	defer next.Stop()
	var flushes []chan struct{}
	for {
		select {
		case <-p.stop:
			return
		case <-next.C:
		case <-p.poked:
		}
		flushes = p.s.takeFlushes(flushes)
		if !p.poll() {
			return
		}
		flushes = answer(flushes)
		next.Reset(p.interval)
	}
}

// poll is one scan and diff. Expectations of mount operations that
// finished before the scan began are spent once it is diffed. false: the
// backend is closing.
func (p *pollBackend) poll() bool {
	mark := p.s.ledger.mark()
	t, err := scanWithRoot(p.s.rootfd, p.stop, p.fresh)
	if errors.Is(err, errScanStopped) {
		return false
	}
	if err != nil {
		p.s.rescan("", "scan: "+err.Error())
		p.s.ledger.retire(mark)
		return true
	}
	for _, ev := range diffOf(p.last, t, p.pathInodes) {
		if !p.s.inferredEcho(ev) {
			p.s.emit(ev)
		}
	}
	p.s.ledger.retire(mark)
	p.last = t
	p.objects.Store(int64(len(t)))
	return true
}

// scanWithRoot is a scan that holds SOURCE itself too (as ""), so that a
// change to the root's own attributes is seen.
func scanWithRoot(root int, stop <-chan struct{}, fresh bool) (tree, error) {
	t, err := scanFresh(root, "", stop, fresh)
	if err != nil {
		return nil, err
	}
	e, err := fsobj.StatFresh(root, "", fresh)
	if err != nil {
		return nil, err
	}
	t[""] = e
	return t, nil
}

func (p *pollBackend) close() error {
	close(p.stop)
	return nil
}

func (p *pollBackend) poke() {
	select {
	case p.poked <- struct{}{}:
	default:
	}
}

func (p *pollBackend) stats() any {
	return PollStats{PollInterval: p.interval.String(), Objects: p.objects.Load()}
}
