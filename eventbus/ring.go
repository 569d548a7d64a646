package eventbus

// ring keeps the most recent events in memory so that a subscriber that
// fell behind, or resumes with a cursor, can be served without loss while
// the events are still held. It is guarded by Bus.mu.
type ring struct {
	buf   []*Event
	first uint64 // seq of the oldest held event; 0 while empty
	last  uint64 // seq of the newest held event
}

func newRing(size int) *ring {
	if size < 1 {
		size = 1
	}
	return &ring{buf: make([]*Event, size)}
}

func (r *ring) add(e *Event) {
	r.buf[e.Seq%uint64(len(r.buf))] = e
	r.last = e.Seq
	if r.first == 0 {
		r.first = e.Seq
	} else if r.last-r.first >= uint64(len(r.buf)) {
		r.first = r.last - uint64(len(r.buf)) + 1
	}
}

// get returns the event with the given seq, or nil if it is not held.
func (r *ring) get(seq uint64) *Event {
	if r.first == 0 || seq < r.first || seq > r.last {
		return nil
	}
	return r.buf[seq%uint64(len(r.buf))]
}

// oldest is the seq of the oldest held event, or next-to-be-assigned when
// the ring is empty.
func (r *ring) oldest(next uint64) uint64 {
	if r.first == 0 {
		return next
	}
	return r.first
}
