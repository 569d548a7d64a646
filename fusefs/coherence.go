package fusefs

// Close-to-open coherence, as NFS clients give it: on a SOURCE whose
// changes the kernel cannot watch (a network filesystem, changes made on
// the server or by another machine; or no underneath watcher at all),
// nothing invalidates the mount's kernel caches when SOURCE changes.
// Until the attribute lifetime ran out, the kernel kept the old size and
// cut every read to it: after "aaaaa" became "bbbbbbbbbbbb" on the
// server, a new open and read returned "bbbbb". Two caches are at fault,
// and an open on such a mount clears both:
//
//   - SOURCE's own: the network filesystem's client caches attributes
//     (NFS actimeo, sshfs attr_timeout) and its reads stop at the size
//     it knows. The open asks its server (freshenOnOpen: a stat with
//     AT_STATX_FORCE_SYNC on the new descriptor), as an NFS client
//     does on open.
//   - the mount's: the kernel forgets the file's attributes
//     (revalidateOnOpen); its next read past the size it knew asks for
//     them again, and as the open is made without FOPEN_KEEP_CACHE, it
//     also drops the file's cached pages.
//
// Cost, on such mounts only: a round trip to the server, a notification
// and a GETATTR per open.

// SetCloseToOpen turns close-to-open coherence on or off. Call it before
// mounting.
func (f *FS) SetCloseToOpen(on bool) { f.closeToOpen.Store(on) }

// revalidateOnOpen makes the kernel forget n's attributes if
// close-to-open coherence is on. It is called inside Open, which is safe:
// invalidating attributes alone (offset -1) takes no lock the kernel
// holds while it waits for OPEN.
func (n *Node) revalidateOnOpen() {
	if n.fsys.closeToOpen.Load() && n.fsys.mounted.Load() {
		n.NotifyContent(-1, 0)
	}
}
