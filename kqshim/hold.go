package kqshim

// The hold: on a clustered mount, a change found underneath waits
// Config.Hold before it is published, so that another host's event for
// the same change, arriving just after the backend saw it, absorbs it.

import (
	"sync"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

type held struct {
	ev  *eventbus.Event
	due time.Time
}

// holder delays changes by at least a fixed time, keeping their order,
// and releases one only once the gate says that any other host's event
// for a change found then would have arrived by now.
type holder struct {
	d       time.Duration
	gate    func(found time.Time) bool
	release func(*eventbus.Event) // invalidate and publish
	drop    func(*eventbus.Event) bool

	mu      sync.Mutex
	q       []held
	in, out uint64 // changes added, and released or dropped
	moved   *sync.Cond
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
}

// gateRecheck is how often a shut gate is looked at again.
const gateRecheck = 50 * time.Millisecond

func newHolder(d time.Duration, gate func(time.Time) bool, release func(*eventbus.Event), drop func(*eventbus.Event) bool) *holder {
	if gate == nil {
		gate = func(time.Time) bool { return true }
	}
	h := &holder{d: d, gate: gate, release: release, drop: drop, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	h.moved = sync.NewCond(&h.mu)
	go h.run()
	return h
}

func (h *holder) add(ev *eventbus.Event) {
	h.mu.Lock()
	h.q = append(h.q, held{ev, time.Now().Add(h.d)})
	h.in++
	h.mu.Unlock()
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

func (h *holder) run() {
	defer close(h.done)
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		h.mu.Lock()
		var due []held
		now := time.Now()
		n := 0
		shut := false
		for n < len(h.q) && !h.q[n].due.After(now) {
			if !h.gate(h.q[n].due.Add(-h.d)) {
				shut = true
				break
			}
			n++
		}
		due = append(due, h.q[:n]...)
		h.q = append(h.q[:0], h.q[n:]...)
		wait := time.Hour
		switch {
		case shut:
			wait = gateRecheck
		case len(h.q) > 0:
			wait = h.q[0].due.Sub(now)
		}
		h.mu.Unlock()
		for _, x := range due {
			if !h.drop(x.ev) {
				h.release(x.ev)
			}
		}
		if len(due) > 0 {
			h.mu.Lock()
			h.out += uint64(len(due))
			h.moved.Broadcast()
			h.mu.Unlock()
		}
		t.Reset(wait)
		select {
		case <-t.C:
		case <-h.kick:
		case <-h.stop:
			h.flushAll()
			return
		}
	}
}

// oldest is when the oldest change held was added (zero if none).
func (h *holder) oldest() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.q) == 0 {
		return time.Time{}
	}
	return h.q[0].due.Add(-h.d)
}

// flushAll releases what is held at once (the watcher is closing).
func (h *holder) flushAll() {
	h.mu.Lock()
	q := h.q
	h.q = nil
	h.mu.Unlock()
	for _, x := range q {
		if !h.drop(x.ev) {
			h.release(x.ev)
		}
	}
	h.mu.Lock()
	h.out += uint64(len(q))
	h.moved.Broadcast()
	h.mu.Unlock()
}

// settled waits until every change added before the call has been
// released or dropped, or until the deadline (false).
func (h *holder) settled(deadline time.Time) bool {
	t := time.AfterFunc(time.Until(deadline), func() {
		h.mu.Lock()
		h.moved.Broadcast()
		h.mu.Unlock()
	})
	defer t.Stop()
	h.mu.Lock()
	defer h.mu.Unlock()
	target := h.in
	for h.out < target {
		if !time.Now().Before(deadline) {
			return false
		}
		h.moved.Wait()
	}
	return true
}

func (h *holder) close() {
	close(h.stop)
	<-h.done
}
