//go:build darwin || freebsd

package kqshim

import "golang.org/x/sys/unix"

// statEntry stats p (not following a symlink) with its birth time.
func statEntry(p string) (entry, error) { return statEntryAt(unix.AT_FDCWD, p) }

// statEntryAt stats name in the directory dirfd, not following a symlink
// ("": dirfd itself).
func statEntryAt(dirfd int, name string) (entry, error) {
	var st unix.Stat_t
	var err error
	if name == "" {
		err = unix.Fstat(dirfd, &st)
	} else {
		err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return entry{}, err
	}
	return entryOfStat(&st), nil
}

// statEntryFresh is statEntryAt: these systems have no way to ask past
// a network filesystem's attribute cache.
func statEntryFresh(dirfd int, name string, _ bool) (entry, error) { return statEntryAt(dirfd, name) }

// entryOfStat is what a scan records of a stat.
func entryOfStat(st *unix.Stat_t) entry {
	return entry{
		ino: uint64(st.Ino), dev: uint64(st.Dev), birth: st.Btim.Nano(), mode: uint32(st.Mode), size: st.Size,
		mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), uid: st.Uid, gid: st.Gid,
		nlink: uint32(st.Nlink),
	}
}
