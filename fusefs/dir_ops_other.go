//go:build !linux

package fusefs

import "golang.org/x/sys/unix"

// renameAt: renameat2's flags are Linux-only; refuse them rather than
// silently dropping their guarantee.
func renameAt(olddirfd int, oldname string, newdirfd int, newname string, flags uint32) error {
	if flags != 0 {
		return unix.ENOTSUP
	}
	return unix.Renameat(olddirfd, oldname, newdirfd, newname)
}
