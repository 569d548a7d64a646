package fusefs

import "golang.org/x/sys/unix"

// mknodAt: x/sys has neither mknodat nor mkfifoat for darwin, and
// mknod(2) on a full path would not be confined beneath SOURCE, so
// special files cannot be made safely here.
func mknodAt(dirfd int, name string, mode, rdev uint32) error {
	return unix.ENOTSUP
}
