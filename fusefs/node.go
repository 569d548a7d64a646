package fusefs

import (
	"context"
	"slices"
	"strings"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// Node is one file, directory or other object of the mirrored tree. It
// holds no descriptor: every operation resolves the node's current path
// beneath SOURCE's root fd, so nothing it does can leave SOURCE.
type Node struct {
	fs.Inode
	fsys *FS
}

var (
	_ = (fs.NodeLookuper)((*Node)(nil))
	_ = (fs.NodeGetattrer)((*Node)(nil))
	_ = (fs.NodeSetattrer)((*Node)(nil))
	_ = (fs.NodeAccesser)((*Node)(nil))
	_ = (fs.NodeStatfser)((*Node)(nil))
	_ = (fs.NodeReadlinker)((*Node)(nil))
	_ = (fs.NodeMkdirer)((*Node)(nil))
	_ = (fs.NodeMknoder)((*Node)(nil))
	_ = (fs.NodeSymlinker)((*Node)(nil))
	_ = (fs.NodeLinker)((*Node)(nil))
	_ = (fs.NodeUnlinker)((*Node)(nil))
	_ = (fs.NodeRmdirer)((*Node)(nil))
	_ = (fs.NodeRenamer)((*Node)(nil))
	_ = (fs.NodeCreater)((*Node)(nil))
	_ = (fs.NodeOpener)((*Node)(nil))
	_ = (fs.NodeOpendirHandler)((*Node)(nil))
	_ = (fs.NodeGetxattrer)((*Node)(nil))
	_ = (fs.NodeSetxattrer)((*Node)(nil))
	_ = (fs.NodeListxattrer)((*Node)(nil))
	_ = (fs.NodeRemovexattrer)((*Node)(nil))
	_ = (fs.NodeCopyFileRanger)((*Node)(nil))
	_ = (fs.NodeOnForgetter)((*Node)(nil))
)

// relPath is the node's path relative to the root. A node that is no
// longer reachable from the root (its last name was removed) has none:
// ENOENT, never a made-up path.
func (n *Node) relPath() (string, syscall.Errno) {
	var segs []string
	p := &n.Inode
	for !p.IsRoot() {
		name, parent := p.Parent()
		if parent == nil {
			return "", syscall.ENOENT
		}
		segs = append(segs, name)
		p = parent
	}
	slices.Reverse(segs)
	return strings.Join(segs, "/"), 0
}

// openRel opens a path beneath SOURCE.
func (n *Node) openRel(rel string, flags int) (int, syscall.Errno) {
	fd, err := openBeneath(n.fsys.rootfd, rel, flags)
	if err != nil {
		return -1, fs.ToErrno(err)
	}
	return fd, 0
}

// dir opens this (directory) node for *at() calls on its entries and
// returns its path.
func (n *Node) dir() (fd int, rel string, errno syscall.Errno) {
	if rel, errno = n.relPath(); errno != 0 {
		return -1, "", errno
	}
	fd, errno = n.openRel(rel, dirSearchFlags|unix.O_DIRECTORY)
	return fd, rel, errno
}

// at yields (dirfd, name) for this node: its parent directory opened
// beneath SOURCE and its name there, the pair every *at() call on the
// node itself takes. The root yields (root, ".").
func (n *Node) at() (dirfd int, name, rel string, errno syscall.Errno) {
	if rel, errno = n.relPath(); errno != 0 {
		return -1, "", "", errno
	}
	dir, name := splitRel(rel)
	dirfd, errno = n.openRel(dir, dirSearchFlags|unix.O_DIRECTORY)
	return dirfd, name, rel, errno
}

// child registers a new child inode for name with the attributes in st.
func (n *Node) child(ctx context.Context, st *syscall.Stat_t, gen uint64, out *fuse.EntryOut) *fs.Inode {
	out.Attr.FromStat(st)
	ch := n.NewInode(ctx, &Node{fsys: n.fsys}, n.fsys.stableAttr(st, gen))
	if cn, ok := ch.Operations().(*Node); ok && n.fsys.underneath != nil {
		n.fsys.nodes.add(cn) // the node go-fuse keeps (an existing one for a known inode)
	}
	return ch
}

// OnForget: the kernel has forgotten the node.
func (n *Node) OnForget() { n.fsys.nodes.remove(n) }

func (n *Node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	dirfd, _, errno := n.dir()
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dirfd)
	var st syscall.Stat_t
	gen, err := statAt(dirfd, name, &st)
	if err != nil {
		return nil, fs.ToErrno(err)
	}
	return n.child(ctx, &st, gen, out), 0
}

// stat stats the node itself, through its open handle when there is one
// (an unlinked but open file has no path).
func (n *Node) stat(f fs.FileHandle, st *syscall.Stat_t) syscall.Errno {
	if h, ok := f.(*fileHandle); ok {
		_, err := statAt(h.fd, "", st)
		return fs.ToErrno(err)
	}
	dirfd, name, _, errno := n.at()
	if errno != 0 {
		return errno
	}
	defer unix.Close(dirfd)
	_, err := statAt(dirfd, name, st)
	return fs.ToErrno(err)
}

func (n *Node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if errno := n.stat(f, &st); errno != 0 {
		return errno
	}
	out.FromStat(&st)
	return 0
}

func (n *Node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(n.fsys.rootfd, &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStatfsT(&st)
	return 0
}

func (n *Node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	dirfd, name, _, errno := n.at()
	if errno != 0 {
		return nil, errno
	}
	defer unix.Close(dirfd)
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		m, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return nil, fs.ToErrno(err)
		}
		if m < size {
			return buf[:m], 0
		}
	}
}

// Access answers access(2) when the kernel does not check permissions
// itself (no default_permissions): the caller's ids against the mode.
func (n *Node) Access(ctx context.Context, mask uint32) syscall.Errno {
	var st syscall.Stat_t
	if errno := n.stat(nil, &st); errno != 0 {
		return errno
	}
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return 0
	}
	mode := uint32(st.Mode)
	if caller.Uid == 0 {
		// root may do anything but execute a file nobody may execute.
		if mask&unix.X_OK != 0 && mode&0111 == 0 && mode&syscall.S_IFMT != syscall.S_IFDIR {
			return syscall.EACCES
		}
		return 0
	}
	var perm uint32
	switch {
	case caller.Uid == st.Uid:
		perm = mode >> 6
	case caller.Gid == st.Gid:
		perm = mode >> 3
	default:
		perm = mode
	}
	if mask&^perm&7 != 0 {
		return syscall.EACCES
	}
	return 0
}

// reportChildWrites reports the pending writes of the child called name,
// before an event about it is published (per-path order).
func (n *Node) reportChildWrites(name string) {
	if ch := n.GetChild(name); ch != nil {
		if cn, ok := ch.Operations().(*Node); ok {
			n.fsys.reportPendingWrites(cn)
		}
	}
}
