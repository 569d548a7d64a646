// Package eventbus is the core of the notifyfs event stream: sequence
// numbers and the epoch, the in-memory ring of recent events, fan-out to
// bounded per-subscriber queues, coalescing, and the journal that keeps
// every event on disk. The event itself, its filters and encodings are
// package event's (aliased here for the emitters). It knows nothing of
// FUSE, the kernel bridge or sockets; everything else in notifyfs
// depends on it and it depends on nothing of notifyfs but package event.
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
// A subscription is a position in the ring, not a queue: Publish only
// wakes the subscriptions that have something to take, and steps a
// caught-up subscription over an event its filter rejects. A subscriber
// that stops reading therefore costs no memory however far it falls
// behind; once the events it has not taken leave the ring it reads them
// from the journal, with no gap and no duplicate at the seam. Without a
// journal, only events that have already left the ring are lost, and the
// subscriber is told exactly which (an overflow event with
// from_seq..to_seq). Stats counts
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
// # Cost of unwanted events
//
// Open and close are opt-in types. Wants reports whether any subscription
// asked for a type; emitters check it before building an event, so an
// unwatched open costs one atomic load.
//
// # Limits
//
// The ring holds the most recent events in memory within a budget in
// bytes (RingBytes; every event is weighed with its strings) and at most
// RingSize of them. The daemon's memory is therefore the budget plus a
// constant, whatever the mix of events and subscribers. Without a
// journal (New, or OpenBus with no directory) a cursor survives
// subscriber reconnects but not a daemon restart, and a cursor older
// than the ring gets a reset event. With a journal (OpenBus) the epoch
// and sequence continue across restarts, a cursor is served from disk
// back to the journal's retention (JournalOptions.MaxBytes, MaxAge), and
// only older cursors, or another epoch's, get a reset.
//
// # Journal failures and damage
//
// A write error does not stop the stream: delivery and sync go on from
// memory (also under SyncAlways), a durability_lost event tells every
// subscriber from which seq the journal no longer holds events, Stats
// names the error, and the journal starts a new segment by itself (at
// most once a second, on the next event) once it can write again, then
// says durability_restored. A journal directory that cannot be written
// at OpenBus gives a memory-only bus with the reason in Stats (SyncAlways
// refuses instead). Recovery and readers resynchronise after a damaged
// record on the next one whose length, seq and checksum hold, so only
// the damaged seqs are reported lost; a lost reservation starts a new
// epoch. The directory must be the daemon's user's and not writable by
// others, and files are created O_EXCL|O_NOFOLLOW through its descriptor.
package eventbus
