package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

var _ = (fs.NodeStatxer)((*Node)(nil))

// Statx answers statx(2) with SOURCE's own statx, so birth time and the
// other extended fields reach the caller.
func (n *Node) Statx(ctx context.Context, f fs.FileHandle, flags, mask uint32, out *fuse.StatxOut) syscall.Errno {
	// The caller's sync flags are honoured; following is never: the
	// kernel resolved the path already and the node is the object.
	flags = flags&(unix.AT_STATX_FORCE_SYNC|unix.AT_STATX_DONT_SYNC) | unix.AT_SYMLINK_NOFOLLOW
	var x unix.Statx_t
	var err error
	if h, ok := asHandle(f); ok {
		err = unix.Statx(h.fd, "", int(flags)|unix.AT_EMPTY_PATH, int(mask), &x)
	} else {
		o, errno := n.fsys.begin(ctx)
		if errno != 0 {
			return errno
		}
		defer o.done()
		err = o.f.ids.run(&o.c, func() error {
			t, err := o.objectOf(n)
			if err != nil {
				return err
			}
			return unix.Statx(t.fd, "", int(flags)|unix.AT_EMPTY_PATH, int(mask), &x)
		})
	}
	if err != nil {
		return fs.ToErrno(err)
	}
	out.FromStatx(&x)
	if x.Mask&unix.STATX_MODE != 0 {
		n.noteMode(uint32(x.Mode))
	}
	if n.inClosedDir() {
		out.SetTimeout(uncached)
	}
	return 0
}
