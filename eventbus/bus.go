package eventbus

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Options configures a Bus. The zero value is usable.
type Options struct {
	// RingBytes is the memory budget of the ring of recent events, which
	// every subscriber reads from (subscriptions are positions in it, not
	// copies): beyond it the oldest events leave memory, and a subscriber
	// still behind them reads the journal, or is told overflow when there
	// is none. Default 64 MiB.
	RingBytes int64
	// RingSize additionally caps how many events the ring holds.
	// Default 262144.
	RingSize int
	// QueueSize is accepted for compatibility and ignored: subscriptions
	// no longer have queues of their own (they cost memory per
	// subscriber, unbounded by the ring's budget).
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
	if o.RingBytes <= 0 {
		o.RingBytes = DefaultRingBytes
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// DefaultRingBytes is the ring's default memory budget.
const DefaultRingBytes = 64 << 20

// MemoryHeadroom is what a daemon needs besides the ring and what else
// it holds live (chiefly go-fuse's node of every inode the kernel
// knows): the Go runtime, FUSE request buffers, the journal's write
// buffer, the kernel-note reader, a few connections, and the garbage
// made between two collections. It is the constant of "RSS under the
// budget plus a constant" (docs/operations.md, "Limits and budgets").
const MemoryHeadroom = 48 << 20

// MemoryLimit is the soft limit a daemon process should start the Go
// runtime with (debug.SetMemoryLimit): the ring's budget plus
// MemoryHeadroom. Without one the collector lets the heap grow to twice
// what is live before it runs, so a full ring would cost twice its
// budget. While the daemon runs, internal/memlimit raises it by what
// the daemon holds live outside the ring (RingBytes says what is in it).
func (o Options) MemoryLimit() int64 {
	o.setDefaults()
	return o.RingBytes + MemoryHeadroom
}

// RingBudget is the ring's memory budget with the default filled in.
func (o Options) RingBudget() int64 {
	o.setDefaults()
	return o.RingBytes
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

	j    *journal      // nil: memory only
	jerr *JournalStats // the journal could not be opened: why, for status

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
		if !journalUnwritable(err) || opts.Journal.Sync == SyncAlways {
			return nil, err
		}
		// A full or read-only journal directory does not stop the mount:
		// it runs memory-only, in a new epoch (the journal's sequence
		// cannot be continued without writing), and says so in the log
		// and in status. SyncAlways promised durability, so it refuses.
		if opts.Journal.Logf != nil {
			opts.Journal.Logf("journal: %v; WARNING: running without a journal (events are kept in memory only, cursors do not survive a restart); free space or fix the directory and restart to record again", err)
		}
		b := New(opts)
		b.jerr = &JournalStats{Dir: opts.Journal.Dir, Sync: opts.Journal.Sync.String(), Error: err.Error()}
		return b, nil
	}
	opts.Epoch = j.epoch
	b := New(opts)
	b.j = j
	if opts.Journal.Sync == SyncAlways {
		j.onDurable = b.wakeAll
	}
	j.onNotice = b.publishNotice
	b.seq = next - 1
	b.published.Store(b.seq)
	return b, nil
}

// journalUnwritable reports an error that means the journal directory
// cannot be written now (full, read-only, no permission), as opposed to
// one that must stop the daemon (in use, untrusted, malformed).
func journalUnwritable(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM, syscall.EIO} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// New returns a memory-only bus with the given options (Journal is
// ignored; see OpenBus).
func New(opts Options) *Bus {
	opts.setDefaults()
	b := &Bus{opts: opts, epoch: opts.Epoch, ring: newRing(opts.RingSize, opts.RingBytes)}
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

// RingBytes is what the ring of recent events holds now, as weighed
// against its budget.
func (b *Bus) RingBytes() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ring.bytes
}

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
	if b.j != nil && b.j.notice.Load() != noticeNone {
		// The journal stopped or started recording with e: tell every
		// subscriber, in the stream, right after it.
		if n := b.j.takeNotice(); n != nil {
			b.publishLocked(n)
		}
	}
	return e.Seq
}

// publishNotice publishes the journal's durability notice, if it still
// has one (the syncer found a failure no append saw).
func (b *Bus) publishNotice() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	if n := b.j.takeNotice(); n != nil {
		b.publishLocked(n)
	}
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
		s.woken = false // the end of the stream is news to everyone
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
	if b.j != nil && b.j.opts.Sync == SyncAlways && !b.j.failing.Load() {
		return min(b.seq, b.j.durable.Load())
	}
	// A failed journal delivers from memory: durability is lost (and
	// subscribers are told so), but the stream and sync go on.
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
	// Queued is how many events published after Position are still in
	// memory for it (they are shared with every other subscriber).
	Queued int `json:"queued"`
	// Catching is true while it reads the journal: it fell behind what
	// memory holds.
	Catching bool   `json:"catching_up"`
	Lost     uint64 `json:"lost"`
}

// Stats describes the bus for status output.
type Stats struct {
	Epoch     string `json:"epoch"`
	Seq       uint64 `json:"seq"`
	OldestSeq uint64 `json:"oldest_seq"`
	RingSize  int    `json:"ring_size"` // the cap on events held
	// RingHeld and RingBytes are what the ring holds now, RingBytesMax
	// its memory budget (--ring-bytes).
	RingHeld     int   `json:"ring_held"`
	RingBytes    int64 `json:"ring_bytes"`
	RingBytesMax int64 `json:"ring_bytes_max"`
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
	st := Stats{Epoch: b.epoch, Seq: b.seq, OldestSeq: b.oldestLocked(), RingSize: b.ring.maxCount,
		RingHeld: b.ring.n, RingBytes: b.ring.bytes, RingBytesMax: b.ring.maxBytes, Dropped: b.dropped}
	oldest := b.ring.oldest(b.seq + 1)
	for _, s := range b.subs {
		pos := s.positionLocked()
		subs = append(subs, SubscriberStats{
			ID: s.id, Name: s.name, Position: pos,
			Queued: int(min(b.seq-pos, uint64(b.ring.n))), Catching: s.next < oldest, Lost: s.lost,
		})
	}
	b.mu.Unlock()
	if b.j != nil {
		st.Journal = b.j.stats()
	} else if b.jerr != nil {
		st.Journal = new(*b.jerr)
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
		notify: make(chan struct{}, 1),
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrClosed
	}
	s.startSeq = b.seq
	s.next = b.seq + 1
	if since != nil {
		switch {
		case since.Epoch != "" && since.Epoch != b.epoch,
			since.Seq > b.seq,
			since.Seq+1 < b.oldestLocked():
			s.pending = append(s.pending, &Event{Type: Reset, Epoch: b.epoch, ToSeq: b.seq, Time: b.opts.Now()})
		default:
			s.next = since.Seq + 1
		}
	}
	b.subs = append(b.subs, s)
	b.nsubs.Store(int32(len(b.subs)))
	b.recomputeWants()
	s.wake()
	return s, nil
}
