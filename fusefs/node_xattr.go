package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/notifyfs/notifyfs/eventbus"
)

// Extended attributes act on the node itself, never on a symlink's
// target; the OS-specific files pin the object with a no-follow open.

func (n *Node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	var sz int
	errno := n.withPinned(func(p pinned) (err error) {
		sz, err = p.getxattr(attr, dest)
		return err
	})
	return uint32(sz), errno
}

func (n *Node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	var sz int
	errno := n.withPinned(func(p pinned) (err error) {
		sz, err = p.listxattr(dest)
		return err
	})
	return uint32(sz), errno
}

func (n *Node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return n.changeXattr(ctx, eventbus.Setxattr, attr, func(p pinned) error {
		return p.setxattr(attr, data, int(flags))
	})
}

func (n *Node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	return n.changeXattr(ctx, eventbus.Removexattr, attr, func(p pinned) error {
		return p.removexattr(attr)
	})
}

func (n *Node) changeXattr(ctx context.Context, t eventbus.Type, attr string, change func(pinned) error) syscall.Errno {
	defer n.fsys.names.lockShared()()
	n.fsys.reportPendingWrites(n) // per-path order
	defer n.expectOn(t)()
	var rel string
	var st syscall.Stat_t
	errno := n.withPinned(func(p pinned) error {
		if err := change(p); err != nil {
			return err
		}
		rel = p.rel
		_, err := statAt(p.fd, "", &st)
		return err
	})
	if errno != 0 {
		return errno
	}
	ev := withAttr(n.fsys.event(ctx, t, rel), &st)
	ev.Xattr = attr
	n.fsys.publish(ev)
	return 0
}

// withPinned runs fn with the node pinned by a descriptor that does not
// follow a final symlink.
func (n *Node) withPinned(fn func(pinned) error) syscall.Errno {
	dirfd, name, rel, errno := n.at()
	if errno != 0 {
		return errno
	}
	defer syscall.Close(dirfd)
	p, err := pin(dirfd, name)
	if err != nil {
		return fs.ToErrno(err)
	}
	defer syscall.Close(p.fd)
	p.rel = rel
	return fs.ToErrno(fn(p))
}
