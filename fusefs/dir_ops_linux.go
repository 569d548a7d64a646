package fusefs

import "golang.org/x/sys/unix"

func mknodAt(dirfd int, name string, mode, rdev uint32) error {
	return unix.Mknodat(dirfd, name, mode, int(rdev))
}

// renameAt supports RENAME_NOREPLACE and RENAME_EXCHANGE.
func renameAt(olddirfd int, oldname string, newdirfd int, newname string, flags uint32) error {
	if flags == 0 {
		return unix.Renameat(olddirfd, oldname, newdirfd, newname)
	}
	return unix.Renameat2(olddirfd, oldname, newdirfd, newname, uint(flags))
}
