package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// RENAME_* flags as FUSE carries them (Linux's values on every OS).
const (
	renameNoReplace = 1 << 0
	renameExchange  = 1 << 1
	renameWhiteout  = 1 << 2
)

// childPath is the path of the entry name of directory n, as the mount
// knows it now (fallback if n has lost its own name meanwhile).
func (n *Node) childPath(name, fallback string) string {
	if rel, errno := n.relPath(); errno == 0 {
		return joinRel(rel, name)
	}
	return fallback
}

// entry describes an operation that makes a name in a directory.
type entry struct {
	t    eventbus.Type
	name string
	// mk makes the object as the caller (o.run), in dirfd.
	mk func(o *op, dirfd int) error
	// from, ino, gen: what the watcher of SOURCE is told besides the
	// new name (a link's existing object).
	from     string
	ino, gen uint64
	// fill completes the event.
	fill func(*eventbus.Event)
}

// makeEntry carries out an operation that makes a name in this directory:
// the object is made as the caller (so it is born the caller's, with the
// caller's umask already applied by the kernel), stat'ed, registered and
// reported. If it cannot be stat'ed it is removed again, so a failed
// operation leaves nothing behind.
func (n *Node) makeEntry(ctx context.Context, e entry, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	rel := n.childPath(e.name, e.name)
	defer n.fsys.expect(e.t, rel, e.from, e.ino, e.gen)()
	o, errno := n.fsys.begin(ctx)
	if errno != 0 {
		return nil, errno
	}
	defer o.done()
	var st syscall.Stat_t
	var gen uint64
	errno = o.run(func() error {
		dirfd, err := o.dirOf(n)
		if err != nil {
			return err
		}
		if err := e.mk(o, dirfd); err != nil {
			return err
		}
		if gen, err = statAt(dirfd, e.name, &st); err != nil {
			unlinkAny(dirfd, e.name)
		}
		return err
	})
	if errno != 0 {
		return nil, errno
	}
	ch, errno := n.child(ctx, &st, gen, out)
	if errno != 0 {
		return nil, errno
	}
	defer n.fsys.names.lockShared()()
	ev := withAttr(n.fsys.event(ctx, e.t, n.childPath(e.name, rel)), &st)
	if e.fill != nil {
		e.fill(ev)
	}
	n.fsys.publish(ev)
	return ch, 0
}

func unlinkAny(dirfd int, name string) {
	if unix.Unlinkat(dirfd, name, 0) != nil {
		unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	}
}

func (n *Node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.makeEntry(ctx, entry{t: eventbus.Mkdir, name: name, mk: func(_ *op, dirfd int) error {
		return unix.Mkdirat(dirfd, name, mode)
	}}, out)
}

func (n *Node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.makeEntry(ctx, entry{t: eventbus.Mknod, name: name, mk: func(_ *op, dirfd int) error {
		return mknodAt(dirfd, name, mode, rdev)
	}}, out)
}

func (n *Node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.makeEntry(ctx, entry{t: eventbus.Symlink, name: name, mk: func(_ *op, dirfd int) error {
		return unix.Symlinkat(target, dirfd, name)
	}, fill: func(ev *eventbus.Event) { ev.Target = target }}, out)
}

// Link gives the object of target (by its pinned identity, never by
// whatever holds its name now) the new name.
func (n *Node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	other, ok := target.(*Node)
	if !ok || other.fsys != n.fsys {
		return nil, syscall.EXDEV
	}
	n.fsys.reportPendingWritesLocked(other) // per-path order
	orel, errno := other.relPath()
	if errno != 0 {
		return nil, errno
	}
	ino, gen := other.identity()
	return n.makeEntry(ctx, entry{t: eventbus.Link, name: name, from: orel, ino: ino, gen: gen,
		mk: func(o *op, dirfd int) error {
			t, err := o.objectOf(other)
			if err != nil {
				return err
			}
			return t.linkTo(dirfd, name)
		},
		fill: func(ev *eventbus.Event) {
			if rel, errno := other.relPath(); errno == 0 {
				ev.From = rel
			} else {
				ev.From = orel
			}
		}}, out)
}

// remove carries out unlink or rmdir, reporting what was removed.
func (n *Node) remove(ctx context.Context, name string, t eventbus.Type, flags int) syscall.Errno {
	func() {
		defer n.fsys.names.lockShared()()
		n.reportChildWrites(name)
	}()
	rel := n.childPath(name, name)
	o, errno := n.fsys.begin(ctx)
	if errno != 0 {
		return errno
	}
	defer o.done()
	var st syscall.Stat_t
	errno = o.run(func() error {
		dirfd, err := o.dirOf(n)
		if err != nil {
			return err
		}
		gen, err := statAt(dirfd, name, &st)
		if err != nil {
			return err
		}
		defer n.fsys.expect(t, rel, "", st.Ino, gen)()
		return unix.Unlinkat(dirfd, name, flags)
	})
	if errno != 0 {
		return errno
	}
	defer n.fsys.names.lockShared()()
	ev := withAttr(n.fsys.event(ctx, t, n.childPath(name, rel)), &st)
	ev.LastLink = t == eventbus.Remove && st.Nlink <= 1
	n.fsys.publish(ev)
	return 0
}

func (n *Node) Unlink(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name, eventbus.Remove, 0)
}

func (n *Node) Rmdir(ctx context.Context, name string) syscall.Errno {
	return n.remove(ctx, name, eventbus.Rmdir, unix.AT_REMOVEDIR)
}

// Rename renames as the caller. No lock is held across the system call
// (on a network filesystem it can take long); the event is published
// afterwards with the paths the mount knows then.
func (n *Node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*Node)
	if !ok || np.fsys != n.fsys {
		return syscall.EXDEV
	}
	// Writes and releases of the two files come first.
	func() {
		defer n.fsys.names.lockShared()()
		n.reportChildWrites(name)
		np.reportChildWrites(newName)
	}()
	from, to := n.childPath(name, name), np.childPath(newName, newName)
	o, errno := n.fsys.begin(ctx)
	if errno != 0 {
		return errno
	}
	defer o.done()
	var st, wst syscall.Stat_t
	replaced, whiteout := false, false
	errno = o.run(func() error {
		odirfd, err := o.dirOf(n)
		if err != nil {
			return err
		}
		ndirfd, err := o.dirOf(np)
		if err != nil {
			return err
		}
		gen, err := statAt(odirfd, name, &st)
		if err != nil {
			return err
		}
		if flags&(renameNoReplace|renameExchange) == 0 {
			var dst syscall.Stat_t
			_, err := statAt(ndirfd, newName, &dst)
			replaced = err == nil
		}
		defer n.fsys.expect(eventbus.Rename, to, from, st.Ino, gen)()
		if flags&renameWhiteout != 0 {
			defer n.fsys.expect(eventbus.Mknod, from, "", 0, 0)()
		}
		if err := renameAt(odirfd, name, ndirfd, newName, flags); err != nil {
			return err
		}
		// RENAME_WHITEOUT leaves a whiteout (a 0/0 character device) at
		// the old name: a new object there, reported as such.
		if flags&renameWhiteout != 0 {
			_, werr := statAt(odirfd, name, &wst)
			whiteout = werr == nil
		}
		return nil
	})
	if errno != 0 {
		return errno
	}
	who := n.fsys.callers.of(ctx)
	defer n.fsys.names.lockShared()()
	from, to = n.childPath(name, from), np.childPath(newName, to)
	ev := withAttr(newEvent(eventbus.Rename, to, who), &st)
	ev.From = from
	ev.Replaced = replaced
	ev.Exchange = flags&renameExchange != 0
	n.fsys.publish(ev)
	if whiteout {
		n.fsys.publish(withAttr(newEvent(eventbus.Mknod, from, who), &wst))
	}
	return 0
}

// OpendirHandle opens the directory for reading as the caller.
func (n *Node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	o, errno := n.fsys.beginOpen(ctx)
	if errno != 0 {
		return nil, 0, errno
	}
	defer o.done()
	fd := -1
	errno = o.run(func() error {
		dirfd, err := o.dirOf(n)
		if err != nil {
			return err
		}
		fd, err = unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	if errno != 0 {
		n.fsys.budget.give(o.uid)
		return nil, 0, errno
	}
	ds, errno := fs.NewLoopbackDirStreamFd(fd)
	stream, ok := ds.(interface {
		fs.FileReaddirenter
		fs.FileSeekdirer
		fs.FileFsyncdirer
		fs.FileReleasedirer
	})
	if errno != 0 || !ok {
		unix.Close(fd)
		n.fsys.budget.give(o.uid)
		return nil, 0, syscall.EIO
	}
	uid := o.uid
	return &dirHandle{stream: stream, release: func() { n.fsys.budget.give(uid) }}, 0, 0
}
