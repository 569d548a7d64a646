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
)

// newEntry finishes an operation that made name in dirfd: gives it to the
// caller (as root, objects are created by the daemon and then handed to
// the caller's uid/gid), stats it, registers the inode and publishes ev.
// If the new object cannot be stat'ed it is removed again, so a failed
// operation leaves nothing behind.
func (n *Node) newEntry(ctx context.Context, dirfd int, name string, ev *eventbus.Event, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.fsys.giveToCaller(ctx, dirfd, name)
	var st syscall.Stat_t
	gen, err := statAt(dirfd, name, &st)
	if err != nil {
		unlinkAny(dirfd, name)
		return nil, fs.ToErrno(err)
	}
	ch := n.child(ctx, &st, gen, out)
	n.fsys.publish(withAttr(ev, &st))
	return ch, 0
}

func unlinkAny(dirfd int, name string) {
	if unix.Unlinkat(dirfd, name, 0) != nil {
		unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
	}
}

// giveToCaller chowns a just-created object to the caller when the
// daemon runs as root (with allow_other, it creates on others' behalf).
// In a set-group-ID directory the group is inherited, so it is kept.
func (f *FS) giveToCaller(ctx context.Context, dirfd int, name string) {
	if !IsRoot() {
		return
	}
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return
	}
	gid := int(caller.Gid)
	var dst syscall.Stat_t
	if _, err := statAt(dirfd, "", &dst); err == nil && dst.Mode&syscall.S_ISGID != 0 {
		gid = -1
	}
	unix.Fchownat(dirfd, name, int(caller.Uid), gid, unix.AT_SYMLINK_NOFOLLOW)
}

func (n *Node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	defer n.fsys.names.lockShared()()
	dirfd, rel, errno := n.dir()
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dirfd)
	defer n.fsys.expect(eventbus.Mkdir, joinRel(rel, name), "", 0, 0)()
	if err := unix.Mkdirat(dirfd, name, mode); err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.newEntry(ctx, dirfd, name, n.fsys.event(ctx, eventbus.Mkdir, joinRel(rel, name)), out)
}

func (n *Node) Mknod(ctx context.Context, name string, mode, rdev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	defer n.fsys.names.lockShared()()
	dirfd, rel, errno := n.dir()
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dirfd)
	defer n.fsys.expect(eventbus.Mknod, joinRel(rel, name), "", 0, 0)()
	if err := mknodAt(dirfd, name, mode, rdev); err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.newEntry(ctx, dirfd, name, n.fsys.event(ctx, eventbus.Mknod, joinRel(rel, name)), out)
}

func (n *Node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	defer n.fsys.names.lockShared()()
	dirfd, rel, errno := n.dir()
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dirfd)
	defer n.fsys.expect(eventbus.Symlink, joinRel(rel, name), "", 0, 0)()
	if err := unix.Symlinkat(target, dirfd, name); err != nil {
		return nil, fs.ToErrno(err)
	}
	ev := n.fsys.event(ctx, eventbus.Symlink, joinRel(rel, name))
	ev.Target = target
	return n.newEntry(ctx, dirfd, name, ev, out)
}

func (n *Node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	defer n.fsys.names.lockShared()()
	other, ok := target.(*Node)
	if !ok || other.fsys != n.fsys {
		return nil, syscall.EXDEV
	}
	odirfd, oname, orel, errno := other.at()
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(odirfd)
	n.fsys.reportPendingWrites(other) // per-path order
	dirfd, rel, errno := n.dir()
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dirfd)
	ino, gen := other.identity()
	defer n.fsys.expect(eventbus.Link, joinRel(rel, name), orel, ino, gen)()
	// flags 0: a symlink is linked itself, never followed.
	if err := unix.Linkat(odirfd, oname, dirfd, name, 0); err != nil {
		return nil, fs.ToErrno(err)
	}
	var st syscall.Stat_t
	gen, err := statAt(dirfd, name, &st)
	if err != nil {
		unix.Unlinkat(dirfd, name, 0)
		return nil, fs.ToErrno(err)
	}
	ch := n.child(ctx, &st, gen, out)
	ev := n.fsys.event(ctx, eventbus.Link, joinRel(rel, name))
	ev.From = orel
	n.fsys.publish(withAttr(ev, &st))
	return ch, 0
}

// remove carries out unlink or rmdir, reporting what was removed.
func (n *Node) remove(ctx context.Context, name string, t eventbus.Type, flags int) syscall.Errno {
	defer n.fsys.names.lockShared()()
	dirfd, rel, errno := n.dir()
	if errno != 0 {
		return errno
	}
	defer unix.Close(dirfd)
	var st syscall.Stat_t
	gen, err := statAt(dirfd, name, &st)
	if err != nil {
		return fs.ToErrno(err)
	}
	n.reportChildWrites(name)
	defer n.fsys.expect(t, joinRel(rel, name), "", st.Ino, gen)()
	if err := unix.Unlinkat(dirfd, name, flags); err != nil {
		return fs.ToErrno(err)
	}
	ev := withAttr(n.fsys.event(ctx, t, joinRel(rel, name)), &st)
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

func (n *Node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*Node)
	if !ok || np.fsys != n.fsys {
		return syscall.EXDEV
	}
	// Writes and releases of the two files come first; then no event may
	// compute a path while the tree's names change.
	func() {
		defer n.fsys.names.lockShared()()
		n.reportChildWrites(name)
		np.reportChildWrites(newName)
	}()
	defer n.fsys.names.lockExclusive()()
	odirfd, orel, errno := n.dir()
	if errno != 0 {
		return errno
	}
	defer unix.Close(odirfd)
	ndirfd, nrel, errno := np.dir()
	if errno != 0 {
		return errno
	}
	defer unix.Close(ndirfd)

	var st, dst syscall.Stat_t
	gen, err := statAt(odirfd, name, &st)
	if err != nil {
		return fs.ToErrno(err)
	}
	replaced := false
	if flags&(renameNoReplace|renameExchange) == 0 {
		_, err := statAt(ndirfd, newName, &dst)
		replaced = err == nil
	}
	defer n.fsys.expect(eventbus.Rename, joinRel(nrel, newName), joinRel(orel, name), st.Ino, gen)()
	if err := renameAt(odirfd, name, ndirfd, newName, flags); err != nil {
		return fs.ToErrno(err)
	}
	ev := withAttr(n.fsys.event(ctx, eventbus.Rename, joinRel(nrel, newName)), &st)
	ev.From = joinRel(orel, name)
	ev.Replaced = replaced
	ev.Exchange = flags&renameExchange != 0
	n.fsys.publish(ev)
	return 0
}

func (n *Node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	rel, errno := n.relPath()
	if errno != 0 {
		return nil, 0, errno
	}
	fd, errno := n.openRel(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if errno != 0 {
		return nil, 0, errno
	}
	ds, errno := fs.NewLoopbackDirStreamFd(fd)
	if errno != 0 {
		unix.Close(fd)
		return nil, 0, errno
	}
	return ds, 0, 0
}
