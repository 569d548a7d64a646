package fusefs

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// pinned is an O_PATH descriptor of one object. Linux has no f*xattr for
// O_PATH descriptors, but the descriptor's /proc/self/fd link names that
// exact inode, so the path calls on it cannot be redirected by a rename
// or symlink swap in SOURCE.
type pinned struct {
	fd   int
	rel  string
	proc string
}

func pin(dirfd int, name string) (pinned, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return pinned{}, err
	}
	return pinned{fd: fd, proc: "/proc/self/fd/" + strconv.Itoa(fd)}, nil
}

func (p pinned) getxattr(attr string, dest []byte) (int, error) {
	return unix.Getxattr(p.proc, attr, dest)
}

func (p pinned) listxattr(dest []byte) (int, error) {
	return unix.Listxattr(p.proc, dest)
}

func (p pinned) setxattr(attr string, data []byte, flags int) error {
	return unix.Setxattr(p.proc, attr, data, flags)
}

func (p pinned) removexattr(attr string) error {
	return unix.Removexattr(p.proc, attr)
}
