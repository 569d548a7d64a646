package kqshim

import "golang.org/x/sys/unix"

// statEntry stats p (not following a symlink) with its birth time.
func statEntry(p string) (entry, error) { return statEntryAt(unix.AT_FDCWD, p) }

// statEntryAt stats name in the directory dirfd, not following a symlink
// ("": dirfd itself).
func statEntryAt(dirfd int, name string) (entry, error) { return statEntryFresh(dirfd, name, false) }

// statEntryFresh is statEntryAt that, with fresh, bypasses a network
// filesystem's attribute cache (see scanFresh).
func statEntryFresh(dirfd int, name string, fresh bool) (entry, error) {
	var x unix.Statx_t
	flags := unix.AT_SYMLINK_NOFOLLOW
	if fresh {
		flags |= unix.AT_STATX_FORCE_SYNC
	}
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if err := unix.Statx(dirfd, name, flags, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &x); err != nil {
		return entry{}, err
	}
	e := entry{
		ino: x.Ino, dev: unix.Mkdev(x.Dev_major, x.Dev_minor), mode: uint32(x.Mode), size: int64(x.Size),
		mtime: x.Mtime.Sec*1e9 + int64(x.Mtime.Nsec), ctime: x.Ctime.Sec*1e9 + int64(x.Ctime.Nsec),
		uid: x.Uid, gid: x.Gid, nlink: x.Nlink,
	}
	if x.Mask&unix.STATX_BTIME != 0 {
		e.birth = x.Btime.Sec*1e9 + int64(x.Btime.Nsec)
	}
	return e, nil
}
