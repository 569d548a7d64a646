//go:build darwin || freebsd

package fsobj

import "golang.org/x/sys/unix"

// Stat stats p (not following a symlink) with its birth time.
func Stat(p string) (Entry, error) { return StatAt(unix.AT_FDCWD, p) }

// StatAt stats name in the directory dirfd, not following a symlink
// ("": dirfd itself).
func StatAt(dirfd int, name string) (Entry, error) {
	var st unix.Stat_t
	var err error
	if name == "" {
		err = unix.Fstat(dirfd, &st)
	} else {
		err = unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return Entry{}, err
	}
	return OfStat(&st), nil
}

// StatFresh is StatAt: these systems have no way to ask past
// a network filesystem's attribute cache.
func StatFresh(dirfd int, name string, _ bool) (Entry, error) { return StatAt(dirfd, name) }

// OfStat is what a scan records of a stat.
func OfStat(st *unix.Stat_t) Entry {
	return Entry{
		Ino: uint64(st.Ino), Dev: uint64(st.Dev), Birth: st.Btim.Nano(), Mode: uint32(st.Mode), Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), UID: st.Uid, GID: st.Gid,
		Nlink: uint32(st.Nlink),
	}
}
