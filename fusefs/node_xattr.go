package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// Extended attributes act on the node's own object (target), never on a
// symlink's target, and as the caller: the trusted.* namespace, and
// security.* changes, stay with those holding the capabilities for them.

func (n *Node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if attr == xattrCaps && n.fsys.opts.DefaultPermissions {
		if sz, errno, ok := n.capsFromHandle(dest); ok {
			return sz, errno
		}
	}
	var sz int
	errno := n.withTarget(ctx, func(t target) (err error) {
		sz, err = t.getxattr(attr, dest)
		return err
	})
	return uint32(sz), errno
}

// xattrCaps is the attribute the kernel asks for before the first write
// through each open file of a FUSE inode (file_remove_privs: a FUSE
// inode is never marked S_NOSEC), kernel passthrough included: a round
// trip per create+write+close.
const xattrCaps = "security.capability"

// capsFromHandle answers that question from a descriptor the mount
// already holds open on the file — the writer's own, as a rule: one
// fgetxattr instead of pinning the object by name (an O_PATH open, a
// statx to check it, the read through its magic link, a close) and
// establishing the caller. The descriptor is the node's object itself.
// The VFS puts no permission on reading security.* attributes, and with
// default_permissions the kernel has checked the path to the file
// before asking, so nothing the caller may not learn is answered; ok is
// false when no handle is open.
func (n *Node) capsFromHandle(dest []byte) (sz uint32, errno syscall.Errno, ok bool) {
	h := n.fsys.handleOf(n)
	if h == nil {
		return 0, 0, false
	}
	defer h.unpin()
	m, err := unix.Fgetxattr(h.fd, xattrCaps, dest)
	return uint32(max(m, 0)), fs.ToErrno(err), true
}

func (n *Node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	var sz int
	errno := n.withTarget(ctx, func(t target) (err error) {
		sz, err = t.listxattr(dest)
		return err
	})
	return uint32(sz), errno
}

func (n *Node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.changeXattr(ctx, eventbus.Setxattr, attr, func(t target) error {
		return t.setxattr(attr, data, int(flags))
	})
}

func (n *Node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	remove := func(t target) error { return t.removexattr(attr) }
	errno := n.changeXattr(ctx, eventbus.Removexattr, attr, remove)
	if errno == syscall.EPERM && attr == xattrCaps && n.mayDropCaps(ctx) {
		// The kernel drops a file's capabilities before a write,
		// truncate or chown by asking to remove them as the writer
		// (setattr_prepare's killpriv, sent even under
		// HANDLE_KILLPRIV_V2), and natively that removal needs no
		// right of the writer's own: refusing it made the write fail
		// with EPERM. Whoever may write the file or owns it can have
		// the capabilities dropped natively (a write of the same bytes
		// does it), so for them it is done with the daemon's rights.
		errno = n.changeXattr(asDaemon(ctx), eventbus.Removexattr, attr, remove)
	}
	return errno
}

// mayDropCaps: the caller may write the file or owns it, the callers
// whose write, truncate or chown drops its capabilities natively.
func (n *Node) mayDropCaps(ctx context.Context) bool {
	errno := n.withTarget(ctx, func(t target) error {
		if t.access(unix.W_OK) == nil {
			return nil
		}
		var st syscall.Stat_t
		if _, err := t.stat(&st); err != nil {
			return err
		}
		if caller, ok := fuse.FromContext(ctx); ok && caller.Uid == st.Uid {
			return nil
		}
		return syscall.EPERM
	})
	return errno == 0
}

func (n *Node) changeXattr(ctx context.Context, t eventbus.Type, attr string, change func(target) error) syscall.Errno {
	n.fsys.reportPendingWritesLocked(n) // per-path order
	defer n.expectOn(t)()
	var st syscall.Stat_t
	errno := n.withTarget(ctx, func(obj target) error {
		if err := change(obj); err != nil {
			return err
		}
		_, err := obj.stat(&st)
		return err
	})
	if errno != 0 {
		return errno
	}
	defer n.fsys.names.lockShared()()
	rel, errno := n.relPath()
	if errno != 0 {
		return 0 // changed, but its name went meanwhile: nothing to name
	}
	ev := withAttr(n.fsys.event(ctx, t, rel), &st)
	ev.Xattr = attr
	n.fsys.publish(ev)
	return 0
}

// withTarget runs fn as the caller on the node's own object.
func (n *Node) withTarget(ctx context.Context, fn func(target) error) syscall.Errno {
	o, errno := n.fsys.begin(ctx)
	if errno != 0 {
		return errno
	}
	defer o.done()
	return o.run(func() error {
		t, err := o.objectOf(n)
		if err != nil {
			return err
		}
		return fn(t)
	})
}
