package fsobj

import "golang.org/x/sys/unix"

// Stat stats p (not following a symlink) with its birth time.
func Stat(p string) (Entry, error) { return StatAt(unix.AT_FDCWD, p) }

// StatAt stats name in the directory dirfd, not following a symlink
// ("": dirfd itself).
func StatAt(dirfd int, name string) (Entry, error) { return StatFresh(dirfd, name, false) }

// StatFresh is StatAt that, with fresh, bypasses a network
// filesystem's attribute cache (kqshim's scanFresh).
func StatFresh(dirfd int, name string, fresh bool) (Entry, error) {
	var x unix.Statx_t
	flags := unix.AT_SYMLINK_NOFOLLOW
	if fresh {
		flags |= unix.AT_STATX_FORCE_SYNC
	}
	if name == "" {
		flags |= unix.AT_EMPTY_PATH
	}
	if err := unix.Statx(dirfd, name, flags, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &x); err != nil {
		return Entry{}, err
	}
	e := Entry{
		Ino: x.Ino, Dev: unix.Mkdev(x.Dev_major, x.Dev_minor), Mode: uint32(x.Mode), Size: int64(x.Size),
		Mtime: x.Mtime.Sec*1e9 + int64(x.Mtime.Nsec), Ctime: x.Ctime.Sec*1e9 + int64(x.Ctime.Nsec),
		UID: x.Uid, GID: x.Gid, Nlink: x.Nlink,
	}
	if x.Mask&unix.STATX_BTIME != 0 {
		e.Birth = x.Btime.Sec*1e9 + int64(x.Btime.Nsec)
	}
	return e, nil
}
