package kqshim

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// ErrBackend is wrapped by errors about choosing or starting a backend.
var ErrBackend = errors.New("kqshim: backend")

// Config connects a watcher to the rest of the daemon.
type Config struct {
	// Source is SOURCE's absolute, canonical path.
	Source string
	// Publish hands a change made underneath the mount to the event bus.
	Publish func(*eventbus.Event)
	// Invalidate, if set, is called with each change before it is
	// published, so the mount drops what its kernel caches hold of the
	// names and objects involved (for a rescan: of the whole subtree).
	Invalidate func(*eventbus.Event)
	// Hold, if positive, is how long a change found is held before it is
	// published (clustered mounts): another host's event for the same
	// change, arriving meanwhile, absorbs it (see ExpectRemote).
	Hold time.Duration
	// HoldGate, if set, says whether a held change found at the given
	// time may be released: a clustered mount answers yes once every
	// other host's event of a change made by then would have arrived.
	HoldGate func(found time.Time) bool
	// Logf, if set, receives notices (a fallback, a rescan and why).
	Logf func(format string, args ...any)
}

// Watcher watches SOURCE for changes made underneath the mount and
// delivers each one, exactly once, as an event with origin backing. The
// mount announces its own changes through Expect, so that the kernel's
// notes of them are not delivered a second time.
type Watcher struct {
	name string
	b    backend
	s    *sink
	done chan struct{}
	once sync.Once
}

// New starts watching with the backend opts names ("auto": the best that
// works here). It returns once the watch covers the whole tree, so no
// change made after New returns is missed.
func New(opts Options, cfg Config) (*Watcher, error) {
	if cfg.Publish == nil {
		return nil, fmt.Errorf("%w: no publisher", ErrBackend)
	}
	opts.setDefaults()
	candidates, err := candidatesFor(opts.Backend)
	if err != nil {
		return nil, err
	}
	if err := checkCoverage(opts, cfg); err != nil {
		return nil, err
	}
	s := newSink(cfg.Source, cfg)
	if s.rootfd < 0 {
		return nil, fmt.Errorf("%w: cannot open %s", ErrBackend, cfg.Source)
	}
	var failures []string
	if auto := opts.Backend == "" || opts.Backend == "auto"; auto {
		if fs := networkFS(cfg.Source); fs != "" {
			// The local kernel never hears of other clients' changes;
			// a kernel backend would miss them without a word.
			failures = append(failures, "SOURCE is on "+fs+", whose changes by other machines only a scan sees")
			candidates = candidates[len(candidates)-1:]
		}
	}
	for _, c := range candidates {
		b, err := c.open(s, opts)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", c.name, err))
			continue
		}

		if len(failures) > 0 && cfg.Logf != nil {
			cfg.Logf("underneath: using %s (%s)", c.name, strings.Join(failures, "; "))
		}
		w := &Watcher{name: c.name, b: b, s: s, done: make(chan struct{})}
		go func() { defer close(w.done); b.run() }()
		return w, nil
	}
	s.close()
	return nil, fmt.Errorf("%w: none works here: %s", ErrBackend, strings.Join(failures, "; "))
}

// candidatesFor lists the backends to try for a name, best first.
func candidatesFor(name string) ([]namedOpener, error) {
	all := append(kernelBackends(), namedOpener{"poll", openPoll})
	switch name {
	case "", "auto":
		return all, nil
	case "off":
		return nil, fmt.Errorf("%w: off is not a backend to start", ErrBackend)
	}
	for _, c := range all {
		if c.name == name {
			return []namedOpener{c}, nil
		}
	}
	for _, b := range Backends {
		if b == name {
			return nil, fmt.Errorf("%w: %s is not available on this system", ErrBackend, name)
		}
	}
	return nil, fmt.Errorf("%w: unknown backend %q (want one of %s)", ErrBackend, name, strings.Join(Backends, ", "))
}

// CheckBackend validates a backend name without starting anything.
func CheckBackend(name string) error {
	if name == "off" {
		return nil
	}
	_, err := candidatesFor(name)
	return err
}

// Backend names the backend in use.
func (w *Watcher) Backend() string { return w.name }

// Expect announces a change the mount is about to make on SOURCE: its
// type, path, the other name of a rename or link (from), and the inode
// number and birth time when known. done must be called once the change
// is made or has failed. See Ledger.
func (w *Watcher) Expect(t eventbus.Type, path, from string, ino, gen uint64) (done func()) {
	// A backend that knows the mount's own changes by pid never asks
	// about most kinds: no need to record them on every operation. A
	// rename is recorded all the same, for the announcements it carries
	// to the new names.
	if classesOf(t)&w.s.consult == 0 && t != eventbus.Rename {
		return noop
	}
	return w.s.ledger.Expect(t, path, from, ino, gen)
}

func noop() {}

// Flush waits until every change made underneath the mount before the
// call has been published (or timeout passes: false). The poll backend
// scans at once to answer it.
func (w *Watcher) Flush(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	ch := w.s.addFlush()
	w.b.poke()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		if w.s.hold != nil {
			return w.s.hold.settled(deadline)
		}
		return true
	case <-t.C:
		return false
	case <-w.done:
		return false
	}
}

// Stats describes the watcher for status output.
func (w *Watcher) Stats() *Stats {
	return &Stats{
		Backend:         w.name,
		Events:          w.s.published.Load(),
		EchoesDropped:   w.s.echoes.Load(),
		Rescans:         w.s.rescans.Load(),
		EchoStanding:    w.s.ledger.standing(),
		RemoteStanding:  w.s.ledger.remote.live.Load(),
		AttrsRemembered: w.s.attrs.len(),
		Detail:          w.b.stats(),
	}
}

// Close stops watching. Calling it again does nothing.
func (w *Watcher) Close() error {
	var err error
	w.once.Do(func() {
		err = w.b.close()
		<-w.done
		w.s.close()
	})
	return err
}
