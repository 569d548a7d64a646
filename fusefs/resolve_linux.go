package fusefs

import (
	"errors"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// dirSearchFlags opens intermediate directories only to search them.
const dirSearchFlags = unix.O_PATH

var noOpenat2 atomic.Bool

// openBeneath opens rel beneath rootfd. With openat2 the kernel refuses
// any symlink, magic link or escape during the whole walk in one call;
// without it (kernels before 5.6) components are walked one by one.
func openBeneath(rootfd int, rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	if !noOpenat2.Load() {
		how := unix.OpenHow{
			Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		}
		for attempt := 0; ; attempt++ {
			fd, err := unix.Openat2(rootfd, rel, &how)
			// EAGAIN: a concurrent rename made the kernel unsure the walk
			// stayed beneath; retrying is the documented answer.
			if (err == unix.EAGAIN || err == unix.EINTR) && attempt < 16 {
				continue
			}
			if errors.Is(err, unix.ENOSYS) {
				noOpenat2.Store(true)
				break
			}
			return fd, err
		}
	}
	return walkBeneath(rootfd, rel, flags)
}
