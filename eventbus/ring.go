package eventbus

import "unsafe"

// ring keeps the most recent events in memory so that every subscriber
// can be served from one shared copy: subscriptions are positions in it,
// not queues of their own, so that memory is bounded by the ring's budget
// whatever the number of subscribers or how long they stall. It is
// bounded in bytes (an event with a 4 KiB path costs what it weighs) and,
// optionally, in events. It is guarded by Bus.mu.
type ring struct {
	buf      []*Event // circular; len is a power of two, grown on demand
	head     int      // index of the oldest held event
	n        int      // events held
	first    uint64   // seq of the oldest held event; 0 while empty
	last     uint64   // seq of the newest held event
	bytes    int64    // sum of eventBytes over the held events
	maxBytes int64
	maxCount int
}

func newRing(maxCount int, maxBytes int64) *ring {
	return &ring{maxCount: max(maxCount, 1), maxBytes: max(maxBytes, 1)}
}

// eventStructBytes is what an Event costs besides its strings.
const eventStructBytes = int64(unsafe.Sizeof(Event{}))

// eventBytes estimates the memory an event holds while it is in the ring:
// the struct, its strings (counted even when shared, so an overestimate),
// and two ring slots (the slot array grows by doubling, so it can be up to
// twice the events it holds).
func eventBytes(e *Event) int64 {
	return eventStructBytes + 2*8 + int64(len(e.Path)+len(e.From)+len(e.Target)+len(e.Xattr)+
		len(e.Comm)+len(e.Host)+len(e.Unknown)+len(e.Epoch))
}

func (r *ring) add(e *Event) {
	size := eventBytes(e)
	// Make room first: the budget holds at all times, even for one event
	// larger than it (it then replaces everything and is held alone).
	for r.n > 0 && (r.bytes+size > r.maxBytes || r.n >= r.maxCount) {
		r.evict()
	}
	if r.n == len(r.buf) {
		r.grow()
	}
	r.buf[(r.head+r.n)&(len(r.buf)-1)] = e
	r.n++
	r.bytes += size
	r.last = e.Seq
	if r.n == 1 {
		r.first = e.Seq
	}
}

func (r *ring) evict() {
	e := r.buf[r.head]
	r.buf[r.head] = nil // let it be collected
	r.head = (r.head + 1) & (len(r.buf) - 1)
	r.n--
	r.bytes -= eventBytes(e)
	if r.n == 0 {
		r.first = 0
	} else {
		r.first++
	}
}

func (r *ring) grow() {
	nb := make([]*Event, max(64, 2*len(r.buf)))
	for i := 0; i < r.n; i++ {
		nb[i] = r.buf[(r.head+i)&(len(r.buf)-1)]
	}
	r.buf, r.head = nb, 0
}

// get returns the event with the given seq, or nil if it is not held.
func (r *ring) get(seq uint64) *Event {
	if r.n == 0 || seq < r.first || seq > r.last {
		return nil
	}
	return r.buf[(r.head+int(seq-r.first))&(len(r.buf)-1)]
}

// oldest is the seq of the oldest held event, or next-to-be-assigned when
// the ring is empty.
func (r *ring) oldest(next uint64) uint64 {
	if r.n == 0 {
		return next
	}
	return r.first
}
