package fusefs

import (
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	lockGet     = unix.F_OFD_GETLK
	lockSet     = unix.F_OFD_SETLK
	lockSetWait = unix.F_OFD_SETLKW
)

func fcntlLock(fd int, cmd int, flk *syscall.Flock_t) error {
	return syscall.FcntlFlock(uintptr(fd), cmd, flk)
}

// reopenReadOnly opens the file fd refers to again, read-only, through
// its /proc magic link (which must be followed: O_NOFOLLOW would refuse
// it). The link names the open file itself, never a path to resolve.
func reopenReadOnly(fd int) (int, error) {
	return unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
}

func fdatasync(fd int) error { return unix.Fdatasync(fd) }

func fallocate(fd int, mode uint32, off, size int64) error {
	return unix.Fallocate(fd, mode, off, size)
}

func copyFileRange(fdIn int, offIn int64, fdOut int, offOut int64, size int, flags int) (int, error) {
	return unix.CopyFileRange(fdIn, &offIn, fdOut, &offOut, size, flags)
}
