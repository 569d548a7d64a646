package fusefs

import (
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// openChecked opens name in dirfd with flags only once it is known to be
// a regular file that check accepts (the node's own object): it is first
// held with O_PATH, which opens nothing, and then opened again through
// its /proc/self/fd link, which names that very inode and checks the
// caller's permission on it. A fifo swapped in under the name in SOURCE
// is therefore never opened (an open of a fifo waits for a partner and
// would hold a daemon thread for as long as its caller likes). The
// kernel opens fifos, sockets and devices of the mount itself; it sends
// OPEN for regular files only, so anything else there is ESTALE.
func openChecked(dirfd int, name string, flags int, st *syscall.Stat_t, check func(*syscall.Stat_t, uint64) error) (int, error) {
	pin, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pin)
	gen, err := statAt(pin, "", st)
	if err != nil {
		return -1, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		return -1, syscall.ESTALE
	}
	if err := check(st, gen); err != nil {
		return -1, err
	}
	// The magic link must be followed, so O_NOFOLLOW goes; O_CREAT and
	// O_EXCL have nothing left to do.
	flags &^= unix.O_NOFOLLOW | unix.O_CREAT | unix.O_EXCL
	return unix.Open("/proc/self/fd/"+strconv.Itoa(pin), flags|unix.O_CLOEXEC, 0)
}
