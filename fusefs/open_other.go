//go:build !linux

package fusefs

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// openChecked opens name in dirfd with flags and keeps the descriptor only
// if it is a regular file that check accepts. Without O_PATH the file is
// opened by name; O_NONBLOCK keeps a fifo swapped in under the name from
// holding the daemon's thread, and is taken off again for a regular file.
func openChecked(dirfd int, name string, flags int, st *syscall.Stat_t, check func(*syscall.Stat_t, uint64) error) (int, error) {
	fd, err := unix.Openat(dirfd, name, (flags|unix.O_NONBLOCK|unix.O_NOFOLLOW)&^(unix.O_CREAT|unix.O_EXCL), 0)
	if err != nil {
		return -1, err
	}
	gen, err := statAt(fd, "", st)
	if err == nil && st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		err = syscall.ESTALE
	}
	if err == nil {
		err = check(st, gen)
	}
	if err == nil && flags&unix.O_NONBLOCK == 0 {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, flags&^unix.O_NONBLOCK&^unix.O_ACCMODE)
	}
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}
