// Package mountutil owns everything about mount points except the
// filesystem itself: checking SOURCE and MOUNTPOINT (existence,
// directories, no overlap), finding and clearing stale mounts (the
// daemon died: "transport endpoint is not connected"), unmounting with
// retries while the mount is busy, and socket discovery — where a
// mount's subscriber socket lives, so that watch, sync and status can
// find it from the mount point alone.
//
// # Socket discovery
//
// Each mount point has a well-known path in the runtime directory
// (/run/notifyfs as root, $XDG_RUNTIME_DIR/notifyfs otherwise), named by
// a hash of the absolute mount point so that any mount point fits in a
// Unix socket address. A mount started with --socket elsewhere leaves a
// symlink at the well-known path pointing at its socket.
//
// # Per-OS caveats
//
// Mount tables are read from /proc/self/mountinfo on Linux; elsewhere a
// mount point is recognised by its device differing from its parent's.
package mountutil
