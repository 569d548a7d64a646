package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// POSIX record locks and flock(2) are taken on the SOURCE file, so they
// hold against every process using the mount and against processes using
// SOURCE directly. Record locks use open-file-description locks where the
// OS has them: each FUSE handle has its own SOURCE descriptor.

func (h *fileHandle) Getlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	var flk syscall.Flock_t
	lk.ToFlockT(&flk)
	err := fcntlLock(h.fd, lockGet, &flk)
	out.FromFlockT(&flk)
	return fs.ToErrno(err)
}

func (h *fileHandle) Setlk(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return h.setLock(lk, flags, false)
}

func (h *fileHandle) Setlkw(ctx context.Context, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return h.setLock(lk, flags, true)
}

func (h *fileHandle) setLock(lk *fuse.FileLock, flags uint32, wait bool) syscall.Errno {
	if flags&fuse.FUSE_LK_FLOCK != 0 {
		var op int
		switch lk.Typ {
		case syscall.F_RDLCK:
			op = syscall.LOCK_SH
		case syscall.F_WRLCK:
			op = syscall.LOCK_EX
		case syscall.F_UNLCK:
			op = syscall.LOCK_UN
		default:
			return syscall.EINVAL
		}
		if !wait {
			op |= syscall.LOCK_NB
		}
		return fs.ToErrno(syscall.Flock(h.fd, op))
	}
	var flk syscall.Flock_t
	lk.ToFlockT(&flk)
	cmd := lockSet
	if wait {
		cmd = lockSetWait
	}
	return fs.ToErrno(fcntlLock(h.fd, cmd, &flk))
}
