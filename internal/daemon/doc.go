// Package daemon owns the wiring of one notifyfs daemon: which journal
// directory and socket path a mount gets, the order things start in (the
// watcher of changes underneath before the filesystem, so no change slips
// between them; the socket before the mount), the kernel cache lifetimes
// that suit the underneath backend, the late binding of the watcher's
// cache invalidation to the filesystem it precedes, the kernel
// passthrough check, the typed status object, and the shutdown order. The
// command (cmd/notifyfs) keeps only flags, the ready handshake with the
// parent process and signals; the integration tests start daemons
// in-process through the same Start.
//
// # Shutdown order
//
// Once the kernel has let go of the mount (Close, or an unmount from
// outside): the socket stops accepting (a client that sees the stream end
// must find it gone), the advertisement goes, the watcher stops (nothing
// to bridge into a closing bus), the filesystem reports what handles
// still open had written, the bus publishes unmount to every subscriber
// and closes the journal, --print writes its last line, and the socket
// server lets connections deliver what they have before it closes.
//
// # Cache lifetimes
//
// Unless the user chose them (Config.TTLsChosen), a kernel backend
// (fanotify, inotify, kqueue) that invalidates the mount's caches as
// changes happen underneath gets minute-long entry, attribute and
// negative lifetimes; with poll or no watcher the filesystem's own
// defaults stay, as changes underneath may go unnoticed for a while.
package daemon
