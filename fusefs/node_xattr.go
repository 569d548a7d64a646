package fusefs

import (
	"context"
	"syscall"

	"github.com/notifyfs/notifyfs/eventbus"
)

// Extended attributes act on the node's own object (target), never on a
// symlink's target, and as the caller: the trusted.* namespace, and
// security.* changes, stay with those holding the capabilities for them.

func (n *Node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	var sz int
	errno := n.withTarget(ctx, func(t target) (err error) {
		sz, err = t.getxattr(attr, dest)
		return err
	})
	return uint32(sz), errno
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
	return n.changeXattr(ctx, eventbus.Removexattr, attr, func(t target) error {
		return t.removexattr(attr)
	})
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
