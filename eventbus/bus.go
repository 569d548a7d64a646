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
	// Host, if set, is stamped on every event published without one: a
	// clustered mount's events say where they happened.
	Host string
	// Journal keeps every event on disk (OpenBus only): subscribers that fall
	// behind the ring, or resume after a restart, read it.
	Journal JournalOptions
}

// setDefaults fills in the zero fields that have defaults (the journal's
// are filled in when it is opened).
func (o *Options) setDefaults() {
	if o.RingSize <= 0 {
		o.RingSize = 1 << 18
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 8192
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// ErrClosed is returned by operations on a closed bus.
var ErrClosed = errors.New("eventbus: closed")

// Bus assigns sequence numbers, keeps recent events, and fans them out to
// subscriptions. Publish never blocks on a subscriber.
type Bus struct {
	opts  Options
	epoch string

	mu      sync.Mutex
	seq     uint64 // last assigned
	ring    *ring
	subs    []*Subscription
	closed  bool
	dropped uint64 // events lost to subscribers, summed over overflow events

	j *journal // nil: memory only

	published atomic.Uint64 // == seq, readable without mu
	wants     atomic.Uint32 // TypeMask of types anybody wants
	nsubs     atomic.Int32  // == len(subs), readable without mu
}

// OpenBus returns a bus backed by the journal in opts.Journal.Dir (or, with
// no Dir, a memory-only bus as New). A journal that exists continues its
// epoch and sequence: no seq is ever reused, and seqs lost to a crash are
// reported to readers as overflow.
func OpenBus(opts Options) (*Bus, error) {
	if opts.Journal.Dir == "" {
		return New(opts), nil
	}
	j, next, err := openJournal(opts.Journal)
	if err != nil {
		return nil, err
	}
	opts.Epoch = j.epoch
	b := New(opts)
	b.j = j
	if opts.Journal.Sync == SyncAlways {
		j.onDurable = b.wakeAll
	}
	b.seq = next - 1
	b.published.Store(b.seq)
	return b, nil
}

// New returns a memory-only bus with the given options (Journal is
// ignored; see OpenBus).
func New(opts Options) *Bus {
	opts.setDefaults()
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
//
// With a SyncAlways journal Publish returns once the event is on disk.
func (b *Bus) Publish(e *Event) uint64 {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return 0
	}
	seq := b.publishLocked(e)
	b.mu.Unlock()
	if b.j != nil && b.j.opts.Sync == SyncAlways {
		b.j.waitDurable(seq)
	}
	return seq
}

func (b *Bus) publishLocked(e *Event) uint64 {
	b.seq++
	e.Seq = b.seq
	if e.Time.IsZero() {
		e.Time = b.opts.Now()
	}
	if e.Host == "" {
		e.Host = b.opts.Host
	}
	if b.j != nil {
		b.j.append(e)
	}
	b.ring.add(e)
	for _, s := range b.subs {
		s.offer(e)
	}
	b.published.Store(b.seq)
	return e.Seq
}

// Close publishes an unmount event, tells every subscription that the
// stream ends after it, refuses further events, and closes the journal
// (subscriptions may go on reading what it holds).
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.publishLocked(&Event{Type: Unmount})
	b.closed = true
	for _, s := range b.subs {
		s.wake()
	}
	b.mu.Unlock()
	if b.j != nil {
		return b.j.close()
	}
	return nil
}

// wakeAll signals every subscription (new events became deliverable).
func (b *Bus) wakeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		s.wake()
	}
}

// deliverableLocked is the highest seq subscribers may be handed: under
// SyncAlways only what is on disk, so that a crash can never take back
// an event somebody saw.
func (b *Bus) deliverableLocked() uint64 {
	if b.j != nil && b.j.opts.Sync == SyncAlways {
		return min(b.seq, b.j.durable.Load())
	}
	return b.seq
}

// oldestLocked is the oldest seq a subscriber can still be served.
func (b *Bus) oldestLocked() uint64 {
	if b.j != nil {
		return min(b.j.first(), b.seq+1)
	}
	return b.ring.oldest(b.seq + 1)
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
	Epoch     string `json:"epoch"`
	Seq       uint64 `json:"seq"`
	OldestSeq uint64 `json:"oldest_seq"`
	RingSize  int    `json:"ring_size"`
	// Dropped is how many events subscribers have lost (the sum of the
	// ranges of every overflow event handed out), since the bus started;
	// it keeps counting what departed subscribers lost.
	Dropped     uint64            `json:"dropped"`
	Subscribers []SubscriberStats `json:"subscribers"`
	// Journal is nil for a memory-only bus.
	Journal *JournalStats `json:"journal,omitempty"`
}

// Stats returns a snapshot of the bus. It holds the bus lock only to
// copy a few numbers per subscription.
func (b *Bus) Stats() Stats {
	// Allocate before taking the lock; a subscription added meanwhile
	// just grows the slice.
	subs := make([]SubscriberStats, 0, b.nsubs.Load()+2)
	b.mu.Lock()
	st := Stats{Epoch: b.epoch, Seq: b.seq, OldestSeq: b.oldestLocked(), RingSize: len(b.ring.buf), Dropped: b.dropped}
	for _, s := range b.subs {
		subs = append(subs, SubscriberStats{
			ID: s.id, Name: s.name, Position: s.positionLocked(),
			Queued: s.qlen, Catching: s.lagging, Lost: s.lost,
		})
	}
	b.mu.Unlock()
	if b.j != nil {
		st.Journal = b.j.stats()
	}
	for i := range subs {
		subs[i].Lag = st.Seq - subs[i].Position
	}
	st.Subscribers = subs
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
	s.startSeq = b.seq
	if since != nil {
		switch {
		case since.Epoch != "" && since.Epoch != b.epoch,
			since.Seq > b.seq,
			since.Seq+1 < b.oldestLocked():
			s.pending = append(s.pending, &Event{Type: Reset, Epoch: b.epoch, ToSeq: b.seq, Time: b.opts.Now()})
		default:
			if since.Seq < b.seq {
				s.lagging, s.next = true, since.Seq+1
			}
		}
	}
	b.subs = append(b.subs, s)
	b.nsubs.Store(int32(len(b.subs)))
	b.recomputeWants()
	s.wake()
	return s, nil
}

// Subscription is one subscriber's view of the stream. Take is meant to
// be called from one goroutine.
type Subscription struct {
	bus      *Bus
	id       uint64
	name     string
	filter   Filter
	notify   chan struct{}
	startSeq uint64

	// Guarded by bus.mu.
	queue    []*Event // circular, fixed capacity
	qhead    int
	qlen     int
	lagging  bool   // reading the ring; live events are not queued
	next     uint64 // while lagging: next seq to read from the ring
	pending  []*Event
	lost     uint64
	detached bool
	closePos uint64 // once detached: the position at Close
	// jr is the journal position of a lagging subscription; used only
	// by Take's goroutine.
	jr      *journalReader
	reading bool // Take is reading the journal without bus.mu
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
	if s.detached {
		return s.closePos
	}
	if s.qlen > 0 {
		return s.queue[s.qhead].Seq - 1
	}
	if s.lagging {
		return s.next - 1
	}
	return s.bus.deliverableLocked()
}

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
	out = dst
	if s.detached {
		return out, s.closePos, true
	}
	if len(s.pending) > 0 {
		out = append(out, s.pending...)
		s.pending = s.pending[:0]
	}
	limit := b.deliverableLocked()
	for s.qlen > 0 && len(out) < max && s.queue[s.qhead].Seq <= limit {
		out = append(out, s.queue[s.qhead])
		s.queue[s.qhead] = nil
		s.qhead = (s.qhead + 1) % len(s.queue)
		s.qlen--
	}
	if s.qlen == 0 && s.lagging {
		if b.j != nil && s.next < b.ring.oldest(b.seq+1) {
			out = s.readJournal(out, max, limit)
			if s.detached {
				return out, s.closePos, true
			}
		} else {
			out = s.readRingLocked(out, max, limit)
		}
	}
	out = coalesceTail(out, len(dst), s.coalesce)
	pos = s.positionLocked()
	if (s.qlen > 0 && s.queue[s.qhead].Seq <= limit) || (s.lagging && s.next <= limit) {
		s.wake() // more to take right away
	}
	done = b.closed && s.qlen == 0 && !s.lagging && len(s.pending) == 0
	return out, pos, done
}

// ringScanLimit bounds how many ring entries one Take examines, so that a
// lagging subscription whose filter rejects almost everything does not
// hold the bus lock (and so Publish) for a scan of the whole ring.
const ringScanLimit = 4096

// readRingLocked serves a lagging subscriber from the ring, and rejoins
// the live queue once it has caught up.
func (s *Subscription) readRingLocked(out []*Event, max int, limit uint64) []*Event {
	b := s.bus
	for scanned := 0; s.next <= limit && len(out) < max && scanned < ringScanLimit; scanned++ {
		e := b.ring.get(s.next)
		if e == nil {
			// Gone from the ring: say exactly which seqs were lost and
			// go on from the oldest one still held.
			oldest := b.ring.oldest(b.seq + 1)
			if oldest <= s.next {
				break // cannot happen with a sane sequence; never spin
			}
			out = append(out, &Event{Type: Overflow, FromSeq: s.next, ToSeq: oldest - 1, Time: b.opts.Now()})
			s.lost += oldest - s.next
			b.dropped += oldest - s.next
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

// readJournal serves a lagging subscriber the events that have left the
// ring. It drops bus.mu while it reads the disk, so publishing goes on;
// nothing else moves s.next while s is lagging, and events newer than the
// ring's oldest are left for the ring.
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
	if s.next > b.seq {
		s.lagging = false
	}
	return out
}

// Close detaches the subscription from the bus and discards what it had
// not taken. Take afterwards returns nothing and done; Ready is
// signalled so that a goroutine waiting on it notices.
func (s *Subscription) Close() {
	b := s.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.detached {
		return
	}
	s.closePos = s.positionLocked()
	s.detached = true
	clear(s.queue)
	s.queue, s.qhead, s.qlen = nil, 0, 0
	if s.jr != nil && !s.reading {
		s.jr.close()
	}
	s.lagging, s.pending = false, nil
	b.subs = slices.DeleteFunc(b.subs, func(x *Subscription) bool { return x == s })
	b.nsubs.Store(int32(len(b.subs)))
	b.recomputeWants()
	s.wake()
}
