//go:build !linux

package fusefs

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// These systems have no open-file-description locks, and process locks
// taken by the daemon would all belong to one owner, letting callers
// share locks they should contend for. ENOSYS makes the kernel keep
// record locks itself, correct among processes using the mount.
const (
	lockGet     = syscall.F_GETLK
	lockSet     = syscall.F_SETLK
	lockSetWait = syscall.F_SETLKW
)

func fcntlLock(fd int, cmd int, flk *syscall.Flock_t) error {
	return unix.ENOSYS
}

// reopenReadOnly is only needed for kernel passthrough, which these
// systems do not have.
func reopenReadOnly(fd int) (int, error) { return -1, unix.ENOTSUP }

func fdatasync(fd int) error { return syscall.Fsync(fd) }

func fallocate(fd int, mode uint32, off, size int64) error { return unix.ENOTSUP }

func copyFileRange(fdIn int, offIn int64, fdOut int, offOut int64, size int, flags int) (int, error) {
	return 0, unix.ENOTSUP
}
