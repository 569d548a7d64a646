// Package eventbus is the core of the notifyfs event stream: the Event
// type and its JSON encoding, sequence numbers and the epoch, filters,
// the in-memory ring of recent events, and fan-out to bounded
// per-subscriber queues. It knows nothing of FUSE, the kernel bridge or
// sockets; everything else in notifyfs depends on it and it depends on
// nothing of notifyfs.
//
// # Ordering
//
// Publish assigns seq under one lock, so seq order is publication order;
// an emitter that publishes before replying to the kernel therefore makes
// seq order the order in which operations completed. Seqs are strictly
// increasing with no gaps. Every subscription sees its matching events in
// seq order.
//
// # Never blocking the writer
//
// Each subscription has a bounded live queue. When it is full, Publish
// does not wait and does not drop: the subscription is switched to reading
// the ring from the first event it missed, and rejoins the live queue once
// it has caught up, with no gap and no duplicate at the seam. Only events
// that have already left the ring are lost, and the subscriber is told
// exactly which (an overflow event with from_seq..to_seq).
//
// # Cost of unwanted events
//
// Open and close are opt-in types. Wants reports whether any subscription
// asked for a type; emitters check it before building an event, so an
// unwatched open costs one atomic load.
//
// # Limits
//
// The ring is memory only: a cursor survives subscriber reconnects but
// not a daemon restart, and events older than RingSize are gone (a cursor
// that old gets a reset event).
package eventbus
