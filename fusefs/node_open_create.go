package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// openFlags adapts the kernel's open flags for the SOURCE open. O_APPEND
// is dropped because the kernel already turns appends into writes at the
// end of the file, and pwrite on an O_APPEND descriptor would ignore the
// offset it sends; FMODE_EXEC is not an open(2) flag.
func openFlags(flags uint32) int {
	return int(flags&^(syscall.O_APPEND|fuse.FMODE_EXEC)) | unix.O_NOFOLLOW | unix.O_CLOEXEC
}

func (n *Node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	defer n.fsys.names.lockShared()()
	dirfd, name, rel, errno := n.at()
	if errno != 0 {
		return nil, 0, errno
	}
	defer unix.Close(dirfd)
	if flags&syscall.O_TRUNC != 0 {
		n.fsys.reportPendingWrites(n)
		defer n.expectOn(eventbus.Truncate)()
	}
	fd, err := unix.Openat(dirfd, name, openFlags(flags), 0)
	if err != nil {
		return nil, 0, fs.ToErrno(err)
	}
	var st syscall.Stat_t
	if _, err := statAt(fd, "", &st); err != nil {
		unix.Close(fd)
		return nil, 0, fs.ToErrno(err)
	}
	h := n.newHandle(ctx, fd, flags, rel, &st)
	if flags&syscall.O_TRUNC != 0 && h.writable {
		// The kernel folds O_TRUNC into OPEN (atomic_o_trunc).
		n.fsys.rebaseWriters(n, &st)
		n.fsys.publish(withAttr(newEvent(eventbus.Truncate, rel, h.opener), &st))
	}
	n.fsys.publishOpen(h, rel, &st)
	return h, 0, 0
}

// publishOpen emits the opt-in open event, only if anybody asked for it.
func (f *FS) publishOpen(h *fileHandle, rel string, st *syscall.Stat_t) {
	if f.bus.Wants(eventbus.Open) {
		f.publish(withAttr(newEvent(eventbus.Open, rel, h.opener), st))
	}
}

// Create opens name, creating it if needed. The kernel asks for O_CREAT
// whether or not the name exists; only a file that this call really
// created is reported as create (an existing one opened with O_TRUNC is
// a truncate).
func (n *Node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	defer n.fsys.names.lockShared()()
	dirfd, dirRel, errno := n.dir()
	if errno != 0 {
		return nil, nil, 0, errno
	}
	defer unix.Close(dirfd)
	rel := joinRel(dirRel, name)
	defer n.fsys.expect(eventbus.Create, rel, "", 0, 0)()
	if flags&syscall.O_TRUNC != 0 {
		defer n.fsys.expect(eventbus.Truncate, rel, "", 0, 0)()
	}
	created := true
	fd, err := unix.Openat(dirfd, name, openFlags(flags)|unix.O_CREAT|unix.O_EXCL, mode)
	if err == unix.EEXIST && flags&syscall.O_EXCL == 0 {
		created = false
		if flags&syscall.O_TRUNC != 0 {
			n.reportChildWrites(name)
		}
		fd, err = unix.Openat(dirfd, name, openFlags(flags)&^unix.O_CREAT, 0)
	}
	if err != nil {
		return nil, nil, 0, fs.ToErrno(err)
	}
	if created {
		n.fsys.giveToCaller(ctx, dirfd, name)
	}
	var st syscall.Stat_t
	gen, err := statAt(fd, "", &st)
	if err != nil {
		unix.Close(fd)
		if created {
			unix.Unlinkat(dirfd, name, 0)
		}
		return nil, nil, 0, fs.ToErrno(err)
	}
	ch := n.child(ctx, &st, gen, out)
	cn := ch.Operations().(*Node)
	h := cn.newHandle(ctx, fd, flags, rel, &st)
	switch {
	case created:
		n.fsys.publish(withAttr(newEvent(eventbus.Create, rel, h.opener), &st))
	case flags&syscall.O_TRUNC != 0 && h.writable:
		n.fsys.publish(withAttr(newEvent(eventbus.Truncate, rel, h.opener), &st))
	}
	n.fsys.publishOpen(h, rel, &st)
	return ch, h, 0, 0
}

// CopyFileRange copies between two SOURCE files in the kernel; the
// destination reports a write.
func (n *Node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, size uint64, flags uint64) (uint32, syscall.Errno) {
	defer n.fsys.names.lockShared()()
	in, ok1 := fhIn.(*fileHandle)
	dst, ok2 := fhOut.(*fileHandle)
	if !ok1 || !ok2 {
		return 0, syscall.ENOTSUP
	}
	defer dst.node.expectOn(eventbus.Write)()
	m, err := copyFileRange(in.fd, int64(offIn), dst.fd, int64(offOut), int(size), int(flags))
	if err != nil {
		return 0, fs.ToErrno(err)
	}
	if m > 0 {
		dst.markRequests()
		dst.wrote(ctx)
	}
	return uint32(m), 0
}
