package fusefs

import "golang.org/x/sys/unix"

// freshenOnOpen has SOURCE's filesystem ask its server for the
// attributes of the file just opened as fd, if close-to-open coherence
// is on, so that the stat that follows and the reads see the server's
// size, not the client's cached one (coherence.go).
func (f *FS) freshenOnOpen(fd int) {
	if !f.closeToOpen.Load() {
		return
	}
	var x unix.Statx_t
	unix.Statx(fd, "", unix.AT_EMPTY_PATH|unix.AT_STATX_FORCE_SYNC, unix.STATX_BASIC_STATS, &x)
}
