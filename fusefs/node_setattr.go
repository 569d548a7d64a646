package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// setattrTarget is what a SETATTR acts on: the node's (dirfd, name)
// beneath SOURCE, and the open handle's fd when the caller passed one
// (ftruncate, fchmod, or a file that is open but no longer has a name).
type setattrTarget struct {
	dirfd int // -1: the node has no path
	name  string
	fd    int // -1: no handle
}

func (t setattrTarget) chmod(mode uint32) error {
	if t.dirfd < 0 {
		return unix.Fchmod(t.fd, mode)
	}
	return chmodAt(t.dirfd, t.name, mode)
}

func (t setattrTarget) chown(uid, gid int) error {
	if t.dirfd < 0 {
		return unix.Fchown(t.fd, uid, gid)
	}
	return unix.Fchownat(t.dirfd, t.name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

func (t setattrTarget) truncate(size int64) error {
	if t.fd >= 0 {
		return unix.Ftruncate(t.fd, size)
	}
	fd, err := unix.Openat(t.dirfd, t.name, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Ftruncate(fd, size)
}

func (t setattrTarget) utimes(ts []unix.Timespec) error {
	if t.dirfd < 0 {
		return futimens(t.fd, ts)
	}
	return unix.UtimesNanoAt(t.dirfd, t.name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// timespecOf converts one SETATTR time, keeping "now" and "leave alone"
// symbolic so the kernel applies its own clock and permission rules.
func timespecOf(in *fuse.SetAttrIn, set, now uint32, sec uint64, nsec uint32) unix.Timespec {
	switch {
	case in.Valid&set == 0:
		return unix.Timespec{Nsec: utimeOmit}
	case in.Valid&now != 0:
		return unix.Timespec{Nsec: utimeNow}
	default:
		return unix.Timespec{Sec: int64(sec), Nsec: int64(nsec)}
	}
}

// Setattr carries out chmod, chown, truncate and utimes (any combination
// the kernel sends in one request) and emits one event per kind changed.
func (n *Node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	defer n.fsys.names.lockShared()()
	t := setattrTarget{dirfd: -1, fd: -1}
	h, _ := f.(*fileHandle)
	if h != nil {
		t.fd = h.fd
	}
	dirfd, name, rel, errno := n.at()
	if errno == 0 {
		defer unix.Close(dirfd)
		t.dirfd, t.name = dirfd, name
	} else {
		// No name left (unlinked while open): act through an open handle.
		// The kernel passes one only for truncate; fchmod and friends
		// arrive without it.
		if h == nil {
			if h = n.fsys.handleOf(n); h == nil {
				return errno
			}
			defer h.unpin()
		}
		t.fd, rel = h.fd, h.currentPath()
	}
	// Writes still folded into a pending event happened before this
	// change; report them first so that per-path order holds.
	n.fsys.reportPendingWrites(n)
	// Truncate stands for any SETATTR: its notes are the widest (data,
	// attributes, and the close of the descriptor a truncate by name opens).
	ino, gen := n.identity()
	defer n.fsys.expect(eventbus.Truncate, rel, "", ino, gen)()

	var types []eventbus.Type
	// Whatever was carried out is reported, even if a later part of
	// the same request fails.
	defer func() { n.publishSetattr(ctx, h, f, rel, types) }()
	if mode, ok := in.GetMode(); ok {
		if err := t.chmod(mode); err != nil {
			return fs.ToErrno(err)
		}
		types = append(types, eventbus.Chmod)
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		suid, sgid := -1, -1
		if uok {
			suid = int(uid)
		}
		if gok {
			sgid = int(gid)
		}
		if err := t.chown(suid, sgid); err != nil {
			return fs.ToErrno(err)
		}
		types = append(types, eventbus.Chown)
	}
	if size, ok := in.GetSize(); ok {
		if err := t.truncate(int64(size)); err != nil {
			return fs.ToErrno(err)
		}
		types = append(types, eventbus.Truncate)
	}
	if in.Valid&(fuse.FATTR_ATIME|fuse.FATTR_MTIME) != 0 {
		ts := []unix.Timespec{
			timespecOf(in, fuse.FATTR_ATIME, fuse.FATTR_ATIME_NOW, in.Atime, in.Atimensec),
			timespecOf(in, fuse.FATTR_MTIME, fuse.FATTR_MTIME_NOW, in.Mtime, in.Mtimensec),
		}
		if err := t.utimes(ts); err != nil {
			return fs.ToErrno(err)
		}
		types = append(types, eventbus.Utimes)
	}

	var st syscall.Stat_t
	if h != nil {
		f = h
	}
	if errno := n.stat(f, &st); errno != 0 {
		return errno
	}
	out.FromStat(&st)
	return 0
}

// publishSetattr emits one event per kind of change a SETATTR made.
func (n *Node) publishSetattr(ctx context.Context, h *fileHandle, f fs.FileHandle, rel string, types []eventbus.Type) {
	if len(types) == 0 {
		return
	}
	var st syscall.Stat_t
	if h != nil {
		f = h
	}
	haveAttr := n.stat(f, &st) == 0
	if haveAttr {
		// Our own change moved size/mtime: handles watching for
		// passthrough writes must not mistake it for one.
		n.fsys.rebaseWriters(n, &st)
	}
	who := n.fsys.callers.of(ctx)
	if h != nil && who.pid == 0 {
		who = h.opener
	}
	for _, typ := range types {
		ev := newEvent(typ, rel, who)
		if haveAttr {
			withAttr(ev, &st)
		}
		n.fsys.publish(ev)
	}
}
