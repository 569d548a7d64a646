package fusefs

import (
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Symbolic times for utimensat.
const (
	utimeNow  = unix.UTIME_NOW
	utimeOmit = unix.UTIME_OMIT
)

// chmodAt changes the mode of name in dirfd without following a final
// symlink. Linux's fchmodat ignores AT_SYMLINK_NOFOLLOW (before
// fchmodat2), so the object is pinned with an O_PATH descriptor first and
// changed through its /proc/self/fd link, which names that exact inode.
func chmodAt(dirfd int, name string, mode uint32) error {
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&syscall.S_IFMT == syscall.S_IFLNK {
		return unix.EOPNOTSUPP // Linux symlinks have no mode of their own
	}
	return unix.Fchmodat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), mode, 0)
}

// futimens sets the times of an open file.
func futimens(fd int, ts []unix.Timespec) error {
	return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
}
