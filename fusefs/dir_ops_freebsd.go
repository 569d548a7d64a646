package fusefs

import "golang.org/x/sys/unix"

func mknodAt(dirfd int, name string, mode, rdev uint32) error {
	return unix.Mknodat(dirfd, name, mode, uint64(rdev))
}
