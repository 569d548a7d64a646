// Package kqueue is kqshim's kqueue backend (macOS, FreeBSD), in the
// manner of Mono's KeventWatcher: the kernel's vnode notes and their
// translation into changes, which it hands to kqshim's sink (Sink, the
// only way back; kqshim's backend_kqueue.go registers the backend).
//
// The translation (notes.go, tree.go, batch.go, emit.go, regions.go) has
// no build tag: the kernel side sits behind Source (source_bsd.go,
// source_darwin.go, source_freebsd.go have the real one), so it builds
// everywhere and is tested on every system against a fake note source
// over a real directory tree (notes_test.go). What it records of an
// object is kqshim/internal/fsobj's Entry.
//
// # One descriptor per vnode
//
// kqueue has no recursive watch: EVFILT_VNODE notes are about one open
// vnode. So every directory and every regular file of SOURCE gets a
// descriptor (O_EVTONLY on macOS, which does not keep a volume from
// unmounting; O_RDONLY on FreeBSD), opened with openat beneath its
// directory's descriptor and O_NOFOLLOW, so that a watch never leaves
// SOURCE through a symlink. Each is registered with EV_ADD|EV_CLEAR for
// NOTE_DELETE, WRITE, EXTEND, ATTRIB, LINK, RENAME and REVOKE. Symlinks,
// fifos, sockets and devices get none (their changes show in their
// directory's listing).
//
// # Directory writes: rescan and diff
//
// A note says which vnode, never which name. NOTE_WRITE (or EXTEND, LINK)
// on a directory means "list me again": the listing (readdir and a stat
// of each entry) is compared with the previous one. A name gone is a
// departure, a new name an arrival, and an object (known by inode number
// and birth time) that departed and arrived is a rename. NOTE_RENAME,
// DELETE and REVOKE on an object send the translation to its directory's
// listing too; where it went is asked of its descriptor: the link count
// (0: deleted) and, on macOS, F_GETPATH, whose directory is then listed.
// FreeBSD has no path to give: the destination directory's own note finds
// the object, and one that no listing finds within a short grace left
// SOURCE.
//
// So no note reports a change by itself: the listing that completes it
// does (for a rename between directories, the second of the two), whichever
// note caused that listing, and the tree is updated as it is reported.
// The change's other notes then find the listings as the tree has them
// and report nothing. That makes every name reported once, whichever
// note comes first and however the notes are split between reads and
// drains (notes.go and tree.go have the backend's record and loop,
// batch.go and emit.go a batch's discovery, decision and emission).
// Data and attribute notes (WRITE, EXTEND, ATTRIB on a file; ATTRIB on a
// directory) are reported under the object's name once the names of the
// batch are settled.
//
// # Descriptor budget
//
// Descriptors are held within kqshim's Options.MaxWatches (default: half the soft
// RLIMIT_NOFILE, which Go raises to the hard limit at start). A
// directory whose entries cannot all have one is handed over to polling:
// its descriptors are closed, a rescan event tells subscribers to re-read
// it, and its subtree is scanned and diffed every poll interval.
//
// # Echo suppression
//
// The sink's helpers check each change against the mount's announcements
// (kqshim's Ledger); polled regions (regions.go) use the same matching as
// the poll backend (Sink.InferredEcho). The ledger is marked after each
// wait for notes and retired once kevent with a zero timeout has found
// the queue empty (and every polled region has been scanned since the
// mark), so an announcement stands until every note its change queued
// has been read.
package kqueue
