//go:build !linux

package fusefs

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// target is the object an existing node stands for. These systems have
// no O_PATH descriptors to hold any object by (a symlink or a fifo cannot
// be opened plainly), so changes act by name in the parent directory,
// after a check that the name holds the node's object: a swap in SOURCE
// between the two is possible here, unlike on Linux.
type target struct {
	dirfd int
	name  string
}

func (o *op) objectOf(n *Node) (target, error) {
	dirfd, name, err := o.parentOf(n)
	if err != nil {
		return target{}, err
	}
	if name == "" {
		name = "."
	}
	return target{dirfd: dirfd, name: name}, o.f.verify(dirfd, name, n)
}

func (t target) stat(st *syscall.Stat_t) (uint64, error) { return statAt(t.dirfd, t.name, st) }

func (t target) readlink(buf []byte) (int, error) { return unix.Readlinkat(t.dirfd, t.name, buf) }

func (t target) access(mask uint32) error {
	return unix.Faccessat(t.dirfd, t.name, mask, unix.AT_EACCESS|unix.AT_SYMLINK_NOFOLLOW)
}

func (t target) chmod(mode uint32) error {
	return unix.Fchmodat(t.dirfd, t.name, mode, unix.AT_SYMLINK_NOFOLLOW)
}

func (t target) chown(uid, gid int) error {
	return unix.Fchownat(t.dirfd, t.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

func (t target) truncate(size int64) error {
	fd, err := unix.Openat(t.dirfd, t.name, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Ftruncate(fd, size)
}

func (t target) utimes(ts []unix.Timespec) error {
	return unix.UtimesNanoAt(t.dirfd, t.name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// withFd runs fn on a descriptor of the object (the f*xattr calls).
func (t target) withFd(fn func(fd int) error) error {
	fd, err := unix.Openat(t.dirfd, t.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return fn(fd)
}

// On FreeBSD, x/sys maps "user." names onto its extattr namespaces.

func (t target) getxattr(attr string, dest []byte) (n int, err error) {
	err = t.withFd(func(fd int) error { n, err = unix.Fgetxattr(fd, attr, dest); return err })
	return n, err
}

func (t target) listxattr(dest []byte) (n int, err error) {
	err = t.withFd(func(fd int) error { n, err = unix.Flistxattr(fd, dest); return err })
	return n, err
}

func (t target) setxattr(attr string, data []byte, flags int) error {
	return t.withFd(func(fd int) error { return unix.Fsetxattr(fd, attr, data, flags) })
}

func (t target) removexattr(attr string) error {
	return t.withFd(func(fd int) error { return unix.Fremovexattr(fd, attr) })
}

func (t target) linkTo(dirfd int, name string) error {
	return unix.Linkat(t.dirfd, t.name, dirfd, name, 0)
}

// truncateObject: without /proc there is no way to name an unlinked file
// but its descriptor, whose open mode is not the caller's.
func truncateObject(fd int, size int64) error { return unix.EPERM }
