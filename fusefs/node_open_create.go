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

// Open opens the node's own object as the caller. It opens by name in the
// parent and then checks the descriptor is the node's object (ESTALE if a
// swap in SOURCE put another there; the kernel then looks the name up
// again). O_TRUNC is applied only after that check, so a swapped-in file
// is never truncated.
func (n *Node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_TRUNC != 0 {
		n.fsys.reportPendingWritesLocked(n)
		defer n.expectOn(eventbus.Truncate)()
	} else if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		// This handle's writes come after the close_write of the last
		// session (a RELEASE can overtake nothing that comes after it).
		n.fsys.awaitClosing(n)
	}
	o, errno := n.fsys.beginOpen(ctx)
	if errno != 0 {
		return nil, 0, errno
	}
	defer o.done()
	fd := -1
	var st syscall.Stat_t
	errno = o.run(func() error {
		dirfd, name, err := o.parentOf(n)
		if err != nil {
			return err
		}
		if name == "" {
			name = "."
		}
		fl := openFlags(flags)
		trunc := fl&unix.O_TRUNC != 0 && fl&unix.O_ACCMODE != unix.O_RDONLY
		if trunc {
			fl &^= unix.O_TRUNC
		}
		fd, err = openChecked(dirfd, name, fl, &st, func(st *syscall.Stat_t, gen uint64) error {
			return n.fsys.sameObject(n, st, gen)
		})
		if err != nil {
			fd = -1
			return err
		}
		n.fsys.freshenOnOpen(fd) // a network SOURCE's own cached attributes
		if _, err = statAt(fd, "", &st); err == nil && trunc {
			if err = unix.Ftruncate(fd, 0); err == nil {
				_, err = statAt(fd, "", &st)
			}
		}
		if err != nil {
			unix.Close(fd)
			fd = -1
		}
		return err
	})
	if errno != 0 {
		n.fsys.budget.give(o.uid)
		return nil, 0, errno
	}
	rel, _ := n.relPath()
	h := n.newHandle(ctx, fd, flags, rel, &st)
	h.uid, h.creds = o.uid, o.c
	if flags&syscall.O_TRUNC != 0 && h.writable {
		// The kernel folds O_TRUNC into OPEN (atomic_o_trunc).
		n.fsys.rebaseWriters(n, &st)
		n.fsys.publishAbout(n, h.currentPath(), withAttr(newEvent(eventbus.Truncate, "", h.opener), &st))
	}
	n.fsys.publishOpen(h, &st)
	n.revalidateOnOpen()
	return h.forKernel(!mustNotPassthrough(&o.c, h.writable, &st)), 0, 0
}

// publishAbout publishes ev about n at n's path as the mount knows it
// when the event goes out (fallback: n has no name left).
func (f *FS) publishAbout(n *Node, fallback string, ev *eventbus.Event) {
	defer f.names.lockShared()()
	if rel, errno := n.relPath(); errno == 0 {
		ev.Path = rel
	} else {
		ev.Path = fallback
	}
	f.publish(ev)
}

// publishOpen emits the opt-in open event, only if anybody asked for it.
func (f *FS) publishOpen(h *fileHandle, st *syscall.Stat_t) {
	if f.bus.Wants(eventbus.Open) {
		f.publishAbout(h.node, h.currentPath(), withAttr(newEvent(eventbus.Open, "", h.opener), st))
	}
}

// Create opens name, creating it if needed, as the caller: a new file is
// born the caller's, with the mode the kernel passed (the caller's umask
// already applied, set-id bits kept). The kernel asks for O_CREAT whether
// or not the name exists; only a file that this call really created is
// reported as create (an existing one opened with O_TRUNC is a truncate).
func (n *Node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	rel := n.childPath(name, name)
	defer n.fsys.expect(eventbus.Create, rel, "", 0, 0)()
	if flags&syscall.O_TRUNC != 0 {
		defer n.fsys.expect(eventbus.Truncate, rel, "", 0, 0)()
		func() {
			defer n.fsys.names.lockShared()()
			n.reportChildWrites(name)
		}()
	}
	o, errno := n.fsys.beginOpen(ctx)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	defer o.done()
	created := true
	fd := -1
	var st syscall.Stat_t
	var gen uint64
	errno = o.run(func() error {
		dirfd, err := o.dirOf(n)
		if err != nil {
			return err
		}
		fd, err = unix.Openat(dirfd, name, openFlags(flags)|unix.O_CREAT|unix.O_EXCL, mode)
		if err == unix.EEXIST && flags&syscall.O_EXCL == 0 {
			// Made meanwhile (the kernel looked it up missing): open what
			// is there, if it is a regular file.
			created = false
			var est syscall.Stat_t
			fd, err = openChecked(dirfd, name, openFlags(flags), &est, func(*syscall.Stat_t, uint64) error { return nil })
		}
		if err != nil {
			return err
		}
		if gen, err = statAt(fd, "", &st); err != nil {
			unix.Close(fd)
			if created {
				unix.Unlinkat(dirfd, name, 0)
			}
		}
		return err
	})
	if errno != 0 {
		n.fsys.budget.give(o.uid)
		return nil, nil, 0, errno
	}
	ch, errno := n.child(ctx, &st, gen, out)
	if errno != 0 {
		unix.Close(fd)
		n.fsys.budget.give(o.uid)
		return nil, nil, 0, errno
	}
	cn := ch.Operations().(*Node)
	h := cn.newHandle(ctx, fd, flags, rel, &st)
	h.uid, h.creds = o.uid, o.c
	var ev *eventbus.Event
	switch {
	case created:
		ev = newEvent(eventbus.Create, "", h.opener)
	case flags&syscall.O_TRUNC != 0 && h.writable:
		ev = newEvent(eventbus.Truncate, "", h.opener)
	}
	if ev != nil {
		// The new node is linked into the tree only after Create returns:
		// its path is its parent's and its name.
		func() {
			defer n.fsys.names.lockShared()()
			ev.Path = n.childPath(name, rel)
			n.fsys.publish(withAttr(ev, &st))
		}()
	}
	if n.fsys.bus.Wants(eventbus.Open) {
		func() {
			defer n.fsys.names.lockShared()()
			n.fsys.publish(withAttr(newEvent(eventbus.Open, n.childPath(name, rel), h.opener), &st))
		}()
	}
	return ch, h.forKernel(!mustNotPassthrough(&o.c, h.writable, &st)), 0, 0
}

// CopyFileRange copies between two SOURCE files in the kernel, as the
// caller (so the destination loses its set-id bits as it would natively);
// the destination reports a write.
func (n *Node) CopyFileRange(ctx context.Context, fhIn fs.FileHandle, offIn uint64, out *fs.Inode, fhOut fs.FileHandle, offOut uint64, size uint64, flags uint64) (uint32, syscall.Errno) {
	in, ok1 := asHandle(fhIn)
	dst, ok2 := asHandle(fhOut)
	if !ok1 || !ok2 {
		return 0, syscall.ENOTSUP
	}
	dst.markRequests()
	defer dst.node.expectOn(eventbus.Write)()
	var m int
	errno := dst.asCaller(ctx, func() (err error) {
		m, err = copyFileRange(in.fd, int64(offIn), dst.fd, int64(offOut), int(size), int(flags))
		return err
	})
	if errno != 0 {
		return 0, errno
	}
	if m > 0 {
		dst.wrote(ctx)
	}
	return uint32(m), 0
}
