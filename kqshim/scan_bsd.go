//go:build darwin || freebsd

package kqshim

import "syscall"

// statEntry stats p (not following a symlink) with its birth time.
func statEntry(p string) (entry, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return entry{}, err
	}
	return entryOfStat(&st), nil
}

// entryOfStat is what a scan records of a stat.
func entryOfStat(st *syscall.Stat_t) entry {
	return entry{
		ino: uint64(st.Ino), birth: st.Birthtimespec.Nano(), mode: uint32(st.Mode), size: st.Size,
		mtime: st.Mtimespec.Nano(), ctime: st.Ctimespec.Nano(), uid: st.Uid, gid: st.Gid,
		nlink: uint32(st.Nlink),
	}
}
