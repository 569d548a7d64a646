// Package kqshim will watch SOURCE for changes made underneath the mount
// (by processes that bypass it) and bridge them into the event stream
// with origin "backing", while invalidating the mount's kernel caches.
//
// # Status
//
// Only the scan-and-diff that the poll backend is built on exists
// (scan.go): two scans of a tree are compared into create, mkdir,
// symlink, mknod, remove, rmdir, rename (directory moves reported once),
// write, chmod and chown events. An object is known by its inode number
// together with its birth time, because file systems hand a freed inode
// number straight to the next new file. The Watcher, the kernel
// backends, echo suppression and cache invalidation are not built, and
// nothing here is wired into the daemon: notifyfs reports backend
// "off", changes made directly on SOURCE produce no events, and the
// mount keeps its kernel cache lifetimes short (one second) so that
// readers through the mount see such changes soon.
//
// # Planned shape
//
// One public Watcher type; backends behind an unexported interface, one
// file each: backend_fanotify.go (Linux, CAP_SYS_ADMIN, whole tree with
// no per-directory watches), backend_inotify.go (Linux, recursive),
// backend_kqueue.go (macOS, FreeBSD: per-vnode notes, directory writes
// rescanned and diffed), backend_poll.go (scan and diff, for network
// filesystems). Kernel notes are translated into eventbus events at the
// package's edge; nothing of a kernel API leaks into the event model.
// Changes the mount itself made are recognised and dropped (echo
// suppression), so every change appears exactly once.
package kqshim
