// Package cluster joins mounts of one share on many hosts into one event
// stream through NATS JetStream. It owns the publisher (the local journal
// as outbox), the consumer that applies other hosts' events to the local
// bus, the stream layout, and the files beside the journal that make both
// exactly once. It never replicates by itself: JetStream does.
//
// # Stream layout
//
// One stream per share, named NOTIFYFS_<share>, holding the subjects
// notifyfs.<share>.<host>. Every message is one event as JSON, exactly as
// docs/events.md describes it (seq is the origin host's own seq; host
// names the origin), with the header Nats-Msg-Id = EPOCH:SEQ of the
// origin's journal, so that a publish repeated after a crash or a lost
// acknowledgement is dropped by the server's duplicate window. A consumer
// takes one host with notifyfs.<share>.<host> or all with
// notifyfs.<share>.>.
//
// # Publishing (outbox)
//
// The publisher is a subscriber of the local bus like any other: it reads
// the journal from the last seq JetStream acknowledged (the file
// cluster-published beside the journal) and keeps at most MaxInFlight
// publishes unacknowledged. The filesystem never waits for it: while NATS
// is down or slow the backlog is the journal itself. Events the journal's
// retention deleted before they were published are announced to the
// stream as one overflow event naming the lost seqs.
//
// # Consuming (exactly once)
//
// Each mount reads the whole stream with an ordered consumer (the client
// remakes it after a gap, a missed heartbeat or a reconnection; the
// consumer remakes it when it sits idle with the stream ahead) that starts
// at the stream sequence after the last one it applied. That sequence is
// kept beside the journal (cluster-applied, with the local seq it was
// applied at), so durability is the mount's own, not the server's ack
// state; on restart the journal after that local seq is read back and a
// message already applied (same host, time, type and path) is skipped,
// which closes the window between publishing an event locally and
// recording that it was. Messages of the mount's own host are skipped.
//
// # Ordering
//
// One host publishes its events in seq order and JetStream keeps the
// order of one subject, but a stream leader that dies with publishes in
// flight can leave later ones stored before the lost ones are sent
// again. Each message names its predecessor (header Notifyfs-Prev) and
// the consumer holds back a message until its predecessor is applied
// (order.go). Events of different hosts interleave in the order the
// stream received them.
//
// # Echoes
//
// Before a remote event is published locally the mount's kernel caches of
// its paths are invalidated, and the underneath watcher is told to expect
// the change (kqshim.Watcher.ExpectRemote), so that the local poll,
// inotify or fanotify backend, seeing the same change on the shared tree,
// does not report it a second time. The other way round, the watcher holds
// what it finds until every live host has said its outbox was drained
// past that moment (live.go, Node.Gate). A change still reported twice
// (by its author and by a watcher, or by several watchers) is applied
// once (recent.go). docs/cluster.md gives the windows and their limits.
package cluster
