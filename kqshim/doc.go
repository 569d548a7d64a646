// Package kqshim watches SOURCE for changes made underneath the mount
// (by processes that bypass it) and bridges them into the event stream
// with origin "backing", exactly once, while the mount's kernel caches
// are invalidated so that readers through the mount see the new state.
//
// One public type, Watcher; backends behind the unexported backend
// interface, one file each:
//
//   - backend_fanotify.go (Linux 5.17+, CAP_SYS_ADMIN): one filesystem
//     mark reporting file handles and names (FAN_REPORT_DFID_NAME_TARGET,
//     FAN_RENAME): the whole tree with no per-directory kernel watch.
//   - backend_inotify.go (Linux, unprivileged): a watch per directory,
//     added as directories appear, with the mkdir/add_watch race closed
//     by listing the new directory; renames paired by cookie.
//   - backend_kqueue.go (macOS, FreeBSD): a descriptor per vnode; a
//     directory's NOTE_WRITE is a rescan-and-diff of that directory. The
//     backend itself is the package kqshim/internal/kqueue (its doc.go
//     has the model), which reaches the sink only through its Sink
//     interface (kqueue_sink.go adapts the sink to it); its translation
//     and tests build and run on every system.
//   - backend_poll.go (everywhere): scan and diff the whole tree every
//     interval (scan.go), for network filesystems whose local kernel
//     never hears of other clients' changes.
//
// Kernel notes are translated into eventbus events at the package's edge
// (the sink, sink.go); no watch descriptor or mask leaves it. What is
// recorded of one object (an entry: identity, type, attributes) is
// kqshim/internal/fsobj's Entry, shared with the kqueue backend.
//
// # Exactly once
//
// The mount's own changes reach SOURCE too, and the kernel reports them
// like any other. They are recognised as echoes and dropped:
//
//   - fanotify reports the pid of the process that made a change: the
//     daemon's own pid is an echo, exactly.
//   - For the rest, and for writes under kernel passthrough (the kernel
//     writes the SOURCE file on behalf of the process writing through
//     the mount, with that process's pid), the filesystem announces each
//     change before it makes it (Watcher.Expect) and the Ledger absorbs
//     the matching notes. An announcement stands until the backend has
//     read past the moment its operation finished (notes are queued
//     inside the system call, so "queue seen empty after the operation"
//     covers all of them), and for a change of the same kind to the same
//     object made underneath in that millisecond or so, it cannot tell
//     the two apart (see Ledger). A writable handle under passthrough
//     announces writes and its close for its whole life, plus 100 ms for
//     the kernel's close of its backing file, a bound and not a
//     guarantee: the kernel gives none.
//
// Notes of one change can arrive merged or split (the kernel merges
// notes not yet read); the sink describes an object by stat'ing it when
// the note is read, and does not report a second write that shows no
// change since the last one reported.
//
// # Offline index
//
// The package also owns the offline index (index*.go): a compact record
// of SOURCE (path → inode, device, birth time, type and mode, size,
// times, owner, links) kept in the journal's directory, so that a mount
// can publish what changed while no daemon ran. OpenIndex compares
// SOURCE (a poll watcher's first scan, or a scan of its own) with the
// index and returns the changes as offline events, which the daemon
// publishes before letting any watcher event through; without a usable
// index, one rescan of the root. The index then follows the event stream
// (a bus subscription, read in one batch when a write is due rather than
// event by event): each event marks its paths, which are stat'ed
// again and the index rewritten whole (atomically) at most
// IndexConfig.Interval later, and a last time at Close. After a crash
// the journal's events after the index's last write are applied to it
// before comparing (index_replay.go), so nothing is reported twice.
//
// # Ordering and flushing
//
// Events of one backend are published in the order of the kernel's
// notes. Watcher.Flush returns once every change made before it has been
// published; the daemon's sync calls it, so sync covers changes made
// underneath too.
//
// # Limits
//
//   - Types are as precise as the backend can tell: inotify and fanotify
//     say "attributes changed", which is typed by comparing with the last
//     attributes seen (chmod when nothing visible changed or nothing was
//     seen before); a scan cannot tell a write from a truncate to the
//     same size, and sees only the net effect of an interval.
//   - fanotify sees only SOURCE's own filesystem, not filesystems
//     mounted beneath SOURCE; inotify sees them (a watch per directory).
//   - inotify queue overflow and watch limits become rescan events (for
//     the tree, or the directory that could not be watched); the
//     watches are rebuilt after an overflow, and a directory beyond the
//     limit is polled from then on.
//   - Without birth times (sshfs, NFS over the wire, SMB without them)
//     an object is its inode number, device and type; a file removed and
//     another created with the recycled number between two scans reads
//     as one object. On FUSE sources inode numbers may follow the path
//     (sshfs): a scan then pairs renames by the attributes a rename
//     keeps (diffOf).
//   - A change underneath to a file the mount has open for writing
//     under passthrough is absorbed by that handle's announcement and
//     reported by the mount's own size/mtime check instead (origin
//     mount): reported once, attributed to the mount.
package kqshim
