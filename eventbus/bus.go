package eventbus

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Bus. The zero value is usable.
type Options struct {
	// RingSize is how many recent events are held in memory for
	// subscribers that fall behind or resume from a cursor.
	// Default 262144.
	RingSize int
	// QueueSize bounds each subscriber's live queue. A subscriber whose
	// queue is full is moved to reading the ring, so publishing never
	// waits for it. Default 8192.
	QueueSize int
	// Epoch names this sequence; empty = a fresh random id.
	Epoch string
	// Now returns the time stamped on events; default time.Now.
	Now func() time.Time
}

// ErrClosed is returned by operations on a closed bus.
var ErrClosed = errors.New("eventbus: closed")

// Bus assigns sequence numbers, keeps recent events, and fans them out to
// subscriptions. Publish never blocks on a subscriber.
type Bus struct {
	opts  Options
	epoch string

	mu     sync.Mutex
	seq    uint64 // last assigned
	ring   *ring
	subs   []*Subscription
	closed bool

	published atomic.Uint64 // == seq, readable without mu
	wants     atomic.Uint32 // TypeMask of types anybody wants
}

// New returns a bus with the given options.
func New(opts Options) *Bus {
	if opts.RingSize <= 0 {
		opts.RingSize = 1 << 18
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 8192
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Bus{opts: opts, epoch: opts.Epoch, ring: newRing(opts.RingSize)}
	if b.epoch == "" {
		b.epoch = NewEpoch()
	}
	b.recomputeWants()
	return b
}

// NewEpoch returns a fresh random epoch id.
func NewEpoch() string {
	var r [8]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// Epoch returns the epoch of this bus's sequence.
func (b *Bus) Epoch() string { return b.epoch }

// Seq returns the last assigned sequence number (0 before any event).
// Every event published before Seq was called has a seq at or below it.
func (b *Bus) Seq() uint64 { return b.published.Load() }

// Wants reports whether an event of type t would reach anybody. Emitters
// check it first so that unwanted opt-in events cost one atomic load.
func (b *Bus) Wants(t Type) bool { return TypeMask(b.wants.Load()).Has(t) }

// Publish assigns the next seq (and the time, if unset), stores the event
// and queues it for every matching subscription. The bus owns e
// afterwards; it must not be modified. It returns the assigned seq, or 0
// if the bus is closed.
func (b *Bus) Publish(e *Event) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0
	}
	return b.publishLocked(e)
}

func (b *Bus) publishLocked(e *Event) uint64 {
	b.seq++
	e.Seq = b.seq
	if e.Time.IsZero() {
		e.Time = b.opts.Now()
	}
	b.ring.add(e)
	for _, s := range b.subs {
		s.offer(e)
	}
	b.published.Store(b.seq)
	return e.Seq
}

// Close publishes an unmount event, tells every subscription that the
// stream ends after it, and refuses further events.
func (b *Bus) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.publishLocked(&Event{Type: Unmount})
	b.closed = true
	for _, s := range b.subs {
		s.wake()
	}
}

func (b *Bus) recomputeWants() {
	m := DefaultTypes // the ring keeps every change type
	for _, s := range b.subs {
		m |= s.filter.Types
	}
	b.wants.Store(uint32(m))
}

// SubscriberStats describes one subscription for status output.
type SubscriberStats struct {
	ID       uint64 `json:"id"`
	Name     string `json:"name,omitempty"`
	Position uint64 `json:"position"`
	Lag      uint64 `json:"lag"`
	Queued   int    `json:"queued"`
	Catching bool   `json:"catching_up"`
	Lost     uint64 `json:"lost"`
}

// Stats describes the bus for status output.
type Stats struct {
	Epoch       string            `json:"epoch"`
	Seq         uint64            `json:"seq"`
	OldestSeq   uint64            `json:"oldest_seq"`
	RingSize    int               `json:"ring_size"`
	Subscribers []SubscriberStats `json:"subscribers"`
}

// Stats returns a snapshot of the bus.
func (b *Bus) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := Stats{Epoch: b.epoch, Seq: b.seq, OldestSeq: b.ring.oldest(b.seq + 1), RingSize: len(b.ring.buf), Subscribers: []SubscriberStats{}}
	for _, s := range b.subs {
		pos := s.positionLocked()
		st.Subscribers = append(st.Subscribers, SubscriberStats{
			ID: s.id, Name: s.name, Position: pos, Lag: b.seq - pos,
			Queued: s.qlen, Catching: s.lagging, Lost: s.lost,
		})
	}
	return st
}

var subIDs atomic.Uint64

// Subscribe registers a subscription. With since == nil it receives events
// published from now on. With a cursor it first receives every held event
// after since.Seq, then live events, with no gap and no duplicate at the
// seam. A cursor the bus cannot serve (another epoch, in the future, or
// older than the ring holds) yields a reset event and continues live.
func (b *Bus) Subscribe(name string, f Filter, since *Cursor) (*Subscription, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	s := &Subscription{
		bus: b, id: subIDs.Add(1), name: name, filter: f,
		queue:  make([]*Event, b.opts.QueueSize),
		notify: make(chan struct{}, 1),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	if since != nil {
		switch {
		case since.Epoch != "" && since.Epoch != b.epoch,
			since.Seq > b.seq,
			since.Seq+1 < b.ring.oldest(b.seq+1):
			s.pending = append(s.pending, &Event{Type: Reset, Epoch: b.epoch, ToSeq: b.seq, Time: b.opts.Now()})
		default:
			if since.Seq < b.seq {
				s.lagging, s.next = true, since.Seq+1
			}
		}
	}
	b.subs = append(b.subs, s)
	b.recomputeWants()
	s.wake()
	return s, nil
}

// Subscription is one subscriber's view of the stream. Take is meant to
// be called from one goroutine.
type Subscription struct {
	bus    *Bus
	id     uint64
	name   string
	filter Filter
	notify chan struct{}

	// Guarded by bus.mu.
	queue    []*Event // circular, fixed capacity
	qhead    int
	qlen     int
	lagging  bool   // reading the ring; live events are not queued
	next     uint64 // while lagging: next seq to read from the ring
	pending  []*Event
	lost     uint64
	detached bool
}

// ID is unique within the process.
func (s *Subscription) ID() uint64 { return s.id }

// Ready is signalled when Take may return something new.
func (s *Subscription) Ready() <-chan struct{} { return s.notify }

func (s *Subscription) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// offer is called by Publish with bus.mu held.
func (s *Subscription) offer(e *Event) {
	if s.lagging {
		return // it will find e in the ring
	}
	if !s.filter.Match(e) {
		return
	}
	if s.qlen == len(s.queue) {
		// Full: stop queueing and let the subscriber read the ring from
		// here once it has drained the queue. The filesystem goes on.
		s.lagging, s.next = true, e.Seq
		s.wake()
		return
	}
	s.queue[(s.qhead+s.qlen)%len(s.queue)] = e
	s.qlen++
	s.wake()
}

// positionLocked: every event with seq <= position has been handed out
// by Take or filtered away.
func (s *Subscription) positionLocked() uint64 {
	if s.qlen > 0 {
		return s.queue[s.qhead].Seq - 1
	}
	if s.lagging {
		return s.next - 1
	}
	return s.bus.seq
}

// Take appends up to max waiting events to dst and returns it, together
// with pos: every event with seq <= pos that matches the filter is in dst
// or was returned by an earlier Take. done is true once the bus is closed
// and everything has been handed out. Take never blocks; wait on Ready.
func (s *Subscription) Take(dst []*Event, max int) (out []*Event, pos uint64, done bool) {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	out = dst
	if len(s.pending) > 0 {
		out = append(out, s.pending...)
		s.pending = s.pending[:0]
	}
	for s.qlen > 0 && len(out) < max {
		out = append(out, s.queue[s.qhead])
		s.queue[s.qhead] = nil
		s.qhead = (s.qhead + 1) % len(s.queue)
		s.qlen--
	}
	if s.qlen == 0 && s.lagging {
		out = s.readRingLocked(out, max)
	}
	pos = s.positionLocked()
	if s.qlen > 0 || s.lagging {
		s.wake() // more to take right away
	}
	done = b.closed && s.qlen == 0 && !s.lagging && len(s.pending) == 0
	return out, pos, done
}

// readRingLocked serves a lagging subscriber from the ring, and rejoins
// the live queue once it has caught up.
func (s *Subscription) readRingLocked(out []*Event, max int) []*Event {
	b := s.bus
	for s.next <= b.seq && len(out) < max {
		e := b.ring.get(s.next)
		if e == nil {
			oldest := b.ring.oldest(b.seq + 1)
			out = append(out, &Event{Type: Overflow, FromSeq: s.next, ToSeq: oldest - 1, Time: b.opts.Now()})
			s.lost += oldest - s.next
			s.next = oldest
			continue
		}
		if s.filter.Match(e) {
			out = append(out, e)
		}
		s.next++
	}
	if s.next > b.seq {
		s.lagging = false
	}
	return out
}

// Close detaches the subscription from the bus.
func (s *Subscription) Close() {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.detached {
		return
	}
	s.detached = true
	b.subs = slices.DeleteFunc(b.subs, func(x *Subscription) bool { return x == s })
	b.recomputeWants()
}
