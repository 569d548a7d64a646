package eventbus

import (
	"slices"
	"time"
)

// Subscription is one subscriber's view of the stream: a position in
// the bus's ring (and, behind it, the journal). It holds no events of its
// own, so a subscriber that stops reading costs a few hundred bytes
// however long it stalls: the events it has not taken stay in the shared
// ring until the ring's budget pushes them out, and it then reads them
// from the journal. Take is meant to be called from one goroutine.
type Subscription struct {
	bus      *Bus
	id       uint64
	name     string
	filter   Filter
	notify   chan struct{}
	startSeq uint64

	// Guarded by bus.mu.
	woken    bool     // Ready signalled since the last Take
	next     uint64   // the next seq to examine
	pending  []*Event // control events made for this subscription (reset)
	lost     uint64
	detached bool
	closePos uint64 // once detached: the position at Close
	// jr is the journal position of a subscription behind the ring;
	// used only by Take's goroutine.
	jr      *journalReader
	reading bool // Take is reading the journal or filtering without bus.mu
	// scratch holds the ring entries one Take examines.
	scratch []*Event
	// coalesce is the folding window (see coalesce.go).
	coalesce time.Duration
}

// ID is unique within the process.
func (s *Subscription) ID() uint64 { return s.id }

// StartSeq is the bus's seq when the subscription was made. A
// subscription without a cursor receives exactly the matching events
// with a higher seq; with a cursor, it is where a reset continues.
func (s *Subscription) StartSeq() uint64 { return s.startSeq }

// Ready is signalled when Take may return something new.
func (s *Subscription) Ready() <-chan struct{} { return s.notify }

// wake signals Ready, once until the next Take: a subscriber that is
// not reading is then skipped by Publish at the cost of one bool, not a
// channel operation. Called with bus.mu held, as is Take, which clears
// woken, so no wake-up is lost.
func (s *Subscription) wake() {
	if s.woken {
		return
	}
	s.woken = true
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// offer is called by Publish with bus.mu held, after e joined the ring.
// It only wakes the subscription: its filter runs in Take, on the
// subscriber's goroutine and without the bus lock, so that an expensive
// filter costs its own subscriber time, never the filesystem's.
func (s *Subscription) offer(e *Event) { s.wake() }

// positionLocked: every event with seq <= position has been handed out
// by Take or filtered away.
func (s *Subscription) positionLocked() uint64 {
	if s.detached {
		return s.closePos
	}
	return min(s.next-1, s.bus.deliverableLocked())
}

// takeBytes bounds the estimated memory of the events one Take hands
// out, so that a batch of events with long paths does not make every
// connection's buffers large.
const takeBytes = 256 << 10

// Take appends up to max waiting events to dst and returns it, together
// with pos: every event with seq <= pos that matches the filter is in dst
// or was returned by an earlier Take (pos also moves past events the
// filter rejected). done is true once the bus is closed and everything
// has been handed out, or once the subscription is closed. Take never
// blocks; wait on Ready. It may return no events while there is more to
// come (a subscription reading the ring examines a bounded number of
// events per call); Ready is then already signalled.
func (s *Subscription) Take(dst []*Event, max int) (out []*Event, pos uint64, done bool) {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	s.woken = false
	out = dst
	if s.detached {
		return out, s.closePos, true
	}
	if len(s.pending) > 0 {
		out = append(out, s.pending...)
		s.pending = s.pending[:0]
	}
	limit := b.deliverableLocked()
	if s.next <= limit {
		if b.j != nil && s.next < b.ring.oldest(b.seq+1) {
			out = s.readJournal(out, max, limit)
			if s.detached {
				return out, s.closePos, true
			}
		} else {
			out = s.readRing(out, max, limit)
			if s.detached {
				return out, s.closePos, true
			}
		}
	}
	out = coalesceTail(out, len(dst), s.coalesce)
	pos = s.positionLocked()
	if s.next <= limit {
		s.wake() // more to take right away
	}
	done = b.closed && s.next > b.seq && len(s.pending) == 0
	return out, pos, done
}

// ringScanLimit bounds how many ring entries one Take examines, so that a
// subscription whose filter rejects almost everything does not hold the
// bus lock (and so Publish) for a scan of the whole ring.
const ringScanLimit = 4096

// readRing serves the subscriber from the ring. It copies up to
// ringScanLimit event pointers under bus.mu and runs the filter on them
// with the lock released (events are immutable, and nothing but Take
// moves s.next), so that neither a long scan nor an expensive filter
// holds up Publish.
func (s *Subscription) readRing(out []*Event, max int, limit uint64) []*Event {
	b := s.bus
	if b.ring.get(s.next) == nil {
		// Gone from the ring: say exactly which seqs were lost and go
		// on from the oldest one still held.
		oldest := b.ring.oldest(b.seq + 1)
		if oldest <= s.next {
			return out // cannot happen with a sane sequence; never spin
		}
		out = append(out, &Event{Type: Overflow, FromSeq: s.next, ToSeq: oldest - 1, Time: b.opts.Now()})
		s.lost += oldest - s.next
		b.dropped += oldest - s.next
		s.next = oldest
		if s.next > limit {
			return out
		}
	}
	from := s.next
	n := int(min(limit-from+1, ringScanLimit))
	cand := s.scratch[:0]
	for i := range n {
		cand = append(cand, b.ring.get(from+uint64(i)))
	}
	s.reading = true
	b.mu.Unlock()
	var bytes int64
	k := 0
	for _, e := range cand {
		if s.filter.Match(e) {
			if len(out) >= max || bytes >= takeBytes {
				break // the position stops just before it
			}
			out = append(out, e)
			bytes += eventBytes(e)
		}
		k++
	}
	clear(cand) // do not keep events alive past the ring
	s.scratch = cand[:0]
	b.mu.Lock()
	s.reading = false
	if !s.detached {
		s.next = from + uint64(k)
	}
	return out
}

// readJournal serves a subscriber the events that have left the ring. It
// drops bus.mu while it reads the disk, so publishing goes on; nothing
// else moves s.next while s is behind the ring (offer only steps over
// the event just published), and events newer than the ring's oldest are
// left for the ring.
func (s *Subscription) readJournal(out []*Event, max int, limit uint64) []*Event {
	b := s.bus
	from, upto := s.next, min(b.ring.oldest(b.seq+1)-1, limit)
	if s.jr == nil {
		s.jr = &journalReader{j: b.j}
	}
	now := b.opts.Now()
	s.reading = true // Close leaves jr to us meanwhile
	b.mu.Unlock()
	out, next, lost := s.jr.read(from, upto, &s.filter, out, max, now)
	b.mu.Lock()
	s.reading = false
	if s.detached {
		s.jr.close()
		return out
	}
	s.next = next
	s.lost += lost
	b.dropped += lost
	if s.next >= b.ring.oldest(b.seq+1) {
		s.jr.close() // back in memory: do not keep a descriptor open
	}
	return out
}

// Close detaches the subscription from the bus. Take afterwards returns
// nothing and done; Ready is signalled so that a goroutine waiting on it
// notices.
func (s *Subscription) Close() {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.detached {
		return
	}
	s.closePos = s.positionLocked()
	s.detached = true
	if s.jr != nil && !s.reading {
		s.jr.close()
	}
	s.pending = nil
	b.subs = slices.DeleteFunc(b.subs, func(x *Subscription) bool { return x == s })
	b.nsubs.Store(int32(len(b.subs)))
	b.recomputeWants()
	s.woken = false // a goroutine waiting on Ready must notice, whatever it did
	s.wake()
}
