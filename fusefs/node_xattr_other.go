//go:build !linux

package fusefs

import "golang.org/x/sys/unix"

// pinned is a descriptor of one object, opened without following a
// final symlink; the f*xattr calls act on exactly that object.
type pinned struct {
	fd  int
	rel string
}

func pin(dirfd int, name string) (pinned, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return pinned{}, err
	}
	return pinned{fd: fd}, nil
}
