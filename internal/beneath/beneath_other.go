//go:build !linux

package beneath

import "golang.org/x/sys/unix"

// DirFlags opens a directory to search it and to name it in *at() calls.
const DirFlags = unix.O_RDONLY | unix.O_DIRECTORY

func open(dirfd int, rel string, flags int) (int, error) {
	return walk(dirfd, rel, flags)
}
