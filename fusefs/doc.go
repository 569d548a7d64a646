// Package fusefs is the notifyfs filesystem: the go-fuse node and
// file-handle types that carry out every operation on SOURCE and publish
// an event to the eventbus when a change succeeds.
//
// # Trust model
//
// Every system call on SOURCE runs as the operation's caller: fsuid,
// fsgid, supplementary groups and effective capabilities taken on the
// locked OS thread for just that call (creds_linux.go), so SOURCE's own
// permission checks decide and new objects are born the caller's. A node
// stands for one object (inode and birth time); a change to an existing
// object goes through an O_PATH descriptor verified to be it
// (target_linux.go), and a name swapped in SOURCE gives ESTALE. Paths
// are resolved beneath SOURCE (internal/beneath): privileged callers
// through the directory descriptors nodes pin (dirpin.go), others from
// the root as themselves, so search permission is checked on every
// ancestor (resolve.go). Entries of directories closed to some users are
// not cached by the kernel (node.go, uncached). No lock is held across a
// system call. New sets the process's umask to 0: the kernel has already
// applied the caller's to the modes it passes. docs/architecture.md
// § Trust model has the whole picture.
//
// # Events
//
// Every successful change publishes exactly one event before the reply
// goes to the kernel, so when a syscall on the mount returns its event
// has a seq, and a sync issued afterwards covers it. The event names the
// process (FUSE reports a thread id; it is resolved to the thread group),
// uid, gid and command. Writes are described in writes.go: reported
// once per WriteInterval per handle, at flush and fsync, and closed by
// close_write at release. Under kernel passthrough writes never reach the
// daemon; they are detected by size/mtime on the open handle.
//
// # Ordering
//
// Events for one path are published in the order the operations
// completed: each is published inside the operation; writes still
// pending on a node are reported before any other event for that node;
// a change to a file whose handle was just closed waits (bounded) for
// that handle's RELEASE, where close_write is published; and renames are
// serialised against publishing (names.go), so no event names a path a
// rename has already moved. RELEASE comes after close(2) has returned, so
// a sync right after close may precede close_write.
//
// # Changes made underneath
//
// A watcher of SOURCE (kqshim, connected with SetUnderneath) is told of
// every change before the mount makes it (underneath.go), so that it does
// not report the kernel's notes of the mount's own changes a second
// time. In return it calls Invalidate for every change it does report:
// the kernel forgets the names, attributes and pages it cached, and
// go-fuse's tree of names follows renames and removals, so paths stay
// true and cache lifetimes can be long.
//
// # Handles and descriptors
//
// A fileHandle owns one SOURCE descriptor. Code outside the handle's own
// requests (periodic write checks, a SETATTR on a file unlinked while
// open) pins the handle first, so Release never closes the descriptor —
// whose number the kernel would reuse — under it.
//
// # Per-OS caveats
//
// Linux is the primary target. On darwin and freebsd the package builds
// and uses portable *at() calls, acts as the daemon (no per-thread
// identity to take: mount with default_permissions there), and changes
// objects by name after a check of identity; RENAME_EXCHANGE/NOREPLACE, fallocate and
// copy_file_range answer ENOTSUP, record locks are kept by the kernel,
// and darwin cannot create device nodes or fifos.
package fusefs
