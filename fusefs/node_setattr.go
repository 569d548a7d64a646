package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// setattrTarget is what a SETATTR acts on: the node's object (pinned,
// when it still has a name) and the open handle's descriptor when the
// caller passed one (ftruncate) or the file has no name left.
type setattrTarget struct {
	obj   target
	named bool
	fd    int // -1: no handle
	// borrowed: fd is another open handle of the file, not one the
	// caller passed; it names the object, but its open mode is not hers.
	borrowed bool
}

func (t setattrTarget) chmod(mode uint32) error {
	if !t.named {
		return unix.Fchmod(t.fd, mode)
	}
	return t.obj.chmod(mode)
}

func (t setattrTarget) chown(uid, gid int) error {
	if !t.named {
		return unix.Fchown(t.fd, uid, gid)
	}
	return t.obj.chown(uid, gid)
}

func (t setattrTarget) truncate(size int64) error {
	switch {
	case t.fd >= 0 && !t.borrowed:
		return unix.Ftruncate(t.fd, size) // her own descriptor: as natively
	case t.named:
		return t.obj.truncate(size)
	default:
		// Through a handle someone else opened: ftruncate would only ask
		// whether that descriptor is writable, so truncate the object it
		// names by path instead, which checks her own write permission.
		return truncateObject(t.fd, size)
	}
}

func (t setattrTarget) utimes(ts []unix.Timespec) error {
	if !t.named {
		return futimens(t.fd, ts)
	}
	return t.obj.utimes(ts)
}

func (t setattrTarget) stat(st *syscall.Stat_t) error {
	if t.fd >= 0 {
		_, err := statAt(t.fd, "", st)
		return err
	}
	_, err := t.obj.stat(st)
	return err
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
// the kernel sends in one request), as the caller and on the node's own
// object, and emits one event per kind changed.
func (n *Node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	h, _ := asHandle(f)
	// Writes still folded into a pending event happened before this
	// change; report them first so that per-path order holds.
	n.fsys.reportPendingWritesLocked(n)
	// Truncate stands for any SETATTR: its notes are the widest (data,
	// attributes, and the close of the descriptor a truncate by name opens).
	rel, _ := n.relPath()
	ino, gen := n.identity()
	defer n.fsys.expect(eventbus.Truncate, rel, "", ino, gen)()

	o, errno := n.fsys.begin(ctx)
	if errno != 0 {
		return errno
	}
	defer o.done()
	var types []eventbus.Type
	var st syscall.Stat_t
	haveAttr := false
	errno = o.run(func() error {
		t := setattrTarget{fd: -1}
		if h != nil {
			t.fd = h.fd
		}
		var err error
		t.obj, err = o.objectOf(n)
		t.named = err == nil
		switch {
		case err == nil:
		case h != nil:
			// ftruncate: the caller's own open file is the object, as
			// natively, whatever its name (or search permission on its
			// directories) is now.
		case err == syscall.ENOENT:
			// No name left (unlinked while open): act through an open
			// handle, which names the object. The kernel passes one only
			// for truncate; fchmod and friends arrive without it. Only a
			// file that really has no name is reached this way: a name
			// the mount has not caught up with is looked up again.
			if h = n.fsys.handleOf(n); h == nil {
				return err
			}
			defer h.unpin()
			var hst syscall.Stat_t
			if _, serr := statAt(h.fd, "", &hst); serr != nil || hst.Nlink > 0 {
				return syscall.ESTALE
			}
			t.fd, t.borrowed = h.fd, true
		default:
			return err
		}
		// Whatever was carried out is reported, even if a later part of
		// the same request fails.
		defer func() { haveAttr = t.stat(&st) == nil }()
		return setattrApply(t, in, &types)
	})
	n.publishSetattr(ctx, h, types, &st, haveAttr)
	if errno != 0 {
		return errno
	}
	if !haveAttr {
		return syscall.EIO
	}
	n.fillAttr(out, &st)
	return 0
}

// setattrApply makes the changes in, recording each kind made in types.
func setattrApply(t setattrTarget, in *fuse.SetAttrIn, types *[]eventbus.Type) error {
	if mode, ok := in.GetMode(); ok {
		if err := t.chmod(mode); err != nil {
			return err
		}
		*types = append(*types, eventbus.Chmod)
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
			return err
		}
		*types = append(*types, eventbus.Chown)
	}
	if size, ok := in.GetSize(); ok {
		if err := t.truncate(int64(size)); err != nil {
			return err
		}
		*types = append(*types, eventbus.Truncate)
	}
	if in.Valid&(fuse.FATTR_ATIME|fuse.FATTR_MTIME) != 0 {
		ts := []unix.Timespec{
			timespecOf(in, fuse.FATTR_ATIME, fuse.FATTR_ATIME_NOW, in.Atime, in.Atimensec),
			timespecOf(in, fuse.FATTR_MTIME, fuse.FATTR_MTIME_NOW, in.Mtime, in.Mtimensec),
		}
		if err := t.utimes(ts); err != nil {
			return err
		}
		*types = append(*types, eventbus.Utimes)
	}
	return nil
}

// publishSetattr emits one event per kind of change a SETATTR made.
func (n *Node) publishSetattr(ctx context.Context, h *fileHandle, types []eventbus.Type, st *syscall.Stat_t, haveAttr bool) {
	if len(types) == 0 {
		return
	}
	if haveAttr {
		// Our own change moved size/mtime: handles watching for
		// passthrough writes must not mistake it for one.
		n.fsys.rebaseWriters(n, st)
	}
	who := n.fsys.callers.of(ctx)
	if h != nil && who.pid == 0 {
		who = h.opener
	}
	defer n.fsys.names.lockShared()()
	rel, errno := n.relPath()
	if errno != 0 && h != nil {
		rel = h.currentPath()
	}
	for _, typ := range types {
		ev := newEvent(typ, rel, who)
		if haveAttr {
			withAttr(ev, st)
		}
		n.fsys.publish(ev)
	}
}
