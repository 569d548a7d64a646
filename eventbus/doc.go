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
// exactly which (an overflow event with from_seq..to_seq). Stats counts
// such losses per subscription (lost) and for the whole bus (dropped,
// which keeps what departed subscriptions lost).
//
// A subscription reading the ring examines a bounded number of ring
// entries per Take, so that one whose filter rejects nearly everything
// does not hold the bus lock, and so Publish, for a scan of the whole
// ring; Take then returns what it found (possibly nothing) and leaves
// Ready signalled.
//
// A subscription without a cursor receives the events published after
// Subscription.StartSeq, the bus's seq at the moment it was made.
//
// # Filters
//
// Prefixes are component-wise ("a" covers "a/b", not "ab"). Globs are
// matched component by component, "**" standing for any number of whole
// components and every other component being a path.Match pattern. The
// matcher is linear in the product of pattern and path lengths whatever
// the number of "**" (it runs inside Publish, under the bus lock) and
// allocates nothing. Validate rejects a malformed pattern with an error
// naming it.
//
// # Forward compatibility
//
// Event.UnmarshalJSON accepts type and origin names it does not know, so
// that a client keeps working against a newer daemon: such an event has
// Type TypeNone and the name in Event.Unknown, and AppendJSON writes it
// back unchanged. ParseType and ParseTypeList stay strict.
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
