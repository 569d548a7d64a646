package fusefs

import (
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// target is the object an existing node stands for, held by an O_PATH
// descriptor verified to be that object (op.pinOf). Every change to an
// existing object goes through it: nothing a name swap in SOURCE does
// between the check and the change can redirect it.
type target struct {
	fd int
}

// objectOf pins n's object for a change.
func (o *op) objectOf(n *Node) (target, error) {
	fd, err := o.pinOf(n)
	return target{fd: fd}, err
}

// proc names the pinned object for the calls that take only a path: the
// magic link resolves to the descriptor's own object, never by name.
func (t target) proc() string { return "/proc/self/fd/" + strconv.Itoa(t.fd) }

func (t target) stat(st *syscall.Stat_t) (uint64, error) { return statAt(t.fd, "", st) }

func (t target) readlink(buf []byte) (int, error) { return unix.Readlinkat(t.fd, "", buf) }

// access asks with the thread's effective ids (AT_EACCESS): the caller's.
func (t target) access(mask uint32) error {
	return unix.Faccessat2(t.fd, "", mask, unix.AT_EACCESS|unix.AT_EMPTY_PATH)
}

func (t target) chmod(mode uint32) error {
	err := fchmodat2(t.fd, "", mode, unix.AT_EMPTY_PATH)
	if err != unix.ENOSYS && err != unix.EINVAL {
		return err
	}
	// Before Linux 6.6: through the magic link (Linux symlinks have no
	// mode of their own, and following one here would change its target).
	var st syscall.Stat_t
	if _, err := t.stat(&st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	return unix.Fchmodat(unix.AT_FDCWD, t.proc(), mode, 0)
}

func (t target) chown(uid, gid int) error {
	return unix.Fchownat(t.fd, "", uid, gid, unix.AT_EMPTY_PATH)
}

func (t target) truncate(size int64) error { return unix.Truncate(t.proc(), size) }

func (t target) utimes(ts []unix.Timespec) error {
	return unix.UtimesNanoAt(t.fd, "", ts, unix.AT_EMPTY_PATH)
}

func (t target) getxattr(attr string, dest []byte) (int, error) {
	return unix.Getxattr(t.proc(), attr, dest)
}

func (t target) listxattr(dest []byte) (int, error) { return unix.Listxattr(t.proc(), dest) }

func (t target) setxattr(attr string, data []byte, flags int) error {
	return unix.Setxattr(t.proc(), attr, data, flags)
}

func (t target) removexattr(attr string) error { return unix.Removexattr(t.proc(), attr) }

// linkTo makes a new name for the object. linkat(fd, "", AT_EMPTY_PATH)
// needs CAP_DAC_READ_SEARCH, which a caller acting as itself lacks; the
// magic link followed is the unprivileged way to name the same object.
func (t target) linkTo(dirfd int, name string) error {
	return unix.Linkat(unix.AT_FDCWD, t.proc(), dirfd, name, unix.AT_SYMLINK_FOLLOW)
}

// pinOf returns an O_PATH descriptor of the node's own object, verified
// to be it. A directory node's is its directory descriptor.
func (o *op) pinOf(n *Node) (int, error) {
	if n.IsDir() {
		return o.dirOf(n)
	}
	dirfd, name, err := o.parentOf(n)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	o.close = append(o.close, fd)
	return fd, o.f.verify(fd, "", n)
}

func fchmodat2(dirfd int, path string, mode uint32, flags int) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	_, _, e := unix.Syscall6(unix.SYS_FCHMODAT2, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(mode), uintptr(flags), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// truncateObject truncates the file the descriptor fd names, checking the
// caller's write permission on it (truncate(2) through the magic link),
// not the descriptor's open mode.
func truncateObject(fd int, size int64) error {
	return unix.Truncate("/proc/self/fd/"+strconv.Itoa(fd), size)
}
