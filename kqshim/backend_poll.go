package kqshim

import "time"

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
	stop     chan struct{}
	poked    chan struct{}
}

func openPoll(s *sink, opts Options) (backend, error) {
	t, err := scanWithRoot(s.source)
	if err != nil {
		return nil, err
	}
	return &pollBackend{s: s, interval: opts.pollInterval(), last: t, stop: make(chan struct{}), poked: make(chan struct{}, 1)}, nil
}

func (p *pollBackend) run() {
	tick := time.NewTicker(p.interval)
	defer tick.Stop()
	var flushes []chan struct{}
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		case <-p.poked:
		}
		flushes = p.s.takeFlushes(flushes)
		p.poll()
		flushes = answer(flushes)
	}
}

// poll is one scan and diff. Expectations of mount operations that
// finished before the scan began are spent once it is diffed.
func (p *pollBackend) poll() {
	mark := p.s.ledger.mark()
	t, err := scanWithRoot(p.s.source)
	if err != nil {
		p.s.rescan("", "scan: "+err.Error())
		p.s.ledger.retire(mark)
		return
	}
	for _, ev := range diff(p.last, t) {
		if !p.s.inferredEcho(ev) {
			p.s.emit(ev)
		}
	}
	p.s.ledger.retire(mark)
	p.last = t
}

// scanWithRoot is a scan that holds SOURCE itself too (as ""), so that a
// change to the root's own attributes is seen.
func scanWithRoot(root string) (tree, error) {
	t, err := scan(root)
	if err != nil {
		return nil, err
	}
	e, err := statEntry(root)
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

func (p *pollBackend) stats(into map[string]any) {
	into["poll_interval"] = p.interval.String()
	into["objects"] = len(p.last)
}
