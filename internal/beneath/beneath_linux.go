package beneath

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// DirFlags opens a directory only to search it and to name it in *at()
// calls: O_PATH needs no read permission and opens nothing for I/O.
const DirFlags = unix.O_PATH | unix.O_DIRECTORY

// maxRetries bounds the EAGAIN retries of one openat2.
const maxRetries = 64

var noOpenat2 atomic.Bool

func open(dirfd int, rel string, flags int) (int, error) {
	if noOpenat2.Load() {
		return walk(dirfd, rel, flags)
	}
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	}
	for attempt := 0; ; attempt++ {
		fd, err := unix.Openat2(dirfd, rel, &how)
		switch {
		case (err == unix.EAGAIN || err == unix.EINTR) && attempt < maxRetries:
			continue
		case err == unix.ENOSYS:
			noOpenat2.Store(true)
			return walk(dirfd, rel, flags)
		}
		return fd, err
	}
}
