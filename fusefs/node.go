package fusefs

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Node is one file, directory or other object of the mirrored tree. It
// stands for one object of SOURCE (inode number and birth time, its
// StableAttr); every operation acts on that object or fails with ESTALE
// (resolve.go). A directory node pins its directory with an O_PATH
// descriptor while the kernel knows it (dirpin.go).
type Node struct {
	fs.Inode
	fsys *FS

	pinMu sync.Mutex
	pin   *dirPin

	// closed: a directory that not everyone may search (some of u, g, o
	// lack x). See uncached.
	closed atomic.Bool
}

// uncached is the kernel cache lifetime of the names and attributes of
// entries of a closed directory. The mount does not ask the kernel to
// check permissions itself (it acts as each caller on SOURCE instead),
// and the kernel walks cached names without asking the daemon: a name
// cached for one user would let another, who may not search the
// directory, stat what is inside. Entries of closed directories are
// therefore looked up afresh — as the caller — every time.
const uncached = time.Nanosecond

// noteMode records whether the directory node n is closed. A directory
// that has just become closed has its cached entries dropped; the kernel
// is told from another goroutine, because it may hold the directory's
// lock while it waits for the very request that changed the mode.
func (n *Node) noteMode(mode uint32) {
	if mode&syscall.S_IFMT != syscall.S_IFDIR {
		return
	}
	// With default_permissions the kernel checks search permission on
	// cached directories itself.
	closed := !n.fsys.opts.DefaultPermissions && mode&0o111 != 0o111
	if n.closed.Swap(closed) == closed || !closed || !n.fsys.mounted.Load() {
		return
	}
	go func() {
		for name := range n.Children() {
			n.NotifyEntry(name)
		}
	}()
}

// inClosedDir reports whether the node is an entry of a closed directory.
func (n *Node) inClosedDir() bool {
	_, parent := n.Parent()
	if parent == nil {
		return false
	}
	pn, ok := parent.Operations().(*Node)
	return ok && pn.closed.Load()
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

// relPath is the node's path relative to the root, for events and for
// resolution from the root. A node that is no longer reachable from the
// root (its last name was removed) has none: ENOENT, never a made-up path.
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

// child registers a new child inode for name with the attributes in st.
// An object of this very mount, reached through SOURCE (a bind mount of
// an ancestor of the mount point placed inside SOURCE), is refused: the
// daemon would wait on itself.
func (n *Node) child(ctx context.Context, st *syscall.Stat_t, gen uint64, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if n.fsys.isOwnMount(st) {
		return nil, syscall.ELOOP
	}
	out.Attr.FromStat(st)
	if n.closed.Load() {
		out.SetEntryTimeout(uncached)
		out.SetAttrTimeout(uncached)
	}
	ch := n.NewInode(ctx, &Node{fsys: n.fsys}, n.fsys.stableAttr(st, gen))
	if cn, ok := ch.Operations().(*Node); ok {
		cn.noteMode(uint32(st.Mode))
		if n.fsys.underneath != nil {
			n.fsys.nodes.add(cn) // the node go-fuse keeps (an existing one for a known inode)
		}
	}
	return ch, 0
}

// OnForget: the kernel has forgotten the node.
func (n *Node) OnForget() {
	n.fsys.nodes.remove(n)
	n.dropPin()
}

func (n *Node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
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
		gen, err = statAt(dirfd, name, &st)
		return err
	})
	if errno != 0 {
		if errno == syscall.ENOENT && n.closed.Load() {
			out.SetEntryTimeout(uncached) // no negative entry either
		}
		return nil, errno
	}
	return n.child(ctx, &st, gen, out)
}

// stat stats the node itself, through its open handle when there is one
// (an unlinked but open file has no path), as the caller.
func (n *Node) stat(ctx context.Context, f fs.FileHandle, st *syscall.Stat_t) syscall.Errno {
	if h, ok := asHandle(f); ok {
		_, err := statAt(h.fd, "", st)
		return fs.ToErrno(err)
	}
	o, errno := n.fsys.begin(ctx)
	if errno != 0 {
		return errno
	}
	defer o.done()
	return o.run(func() error {
		if n.IsDir() {
			fd, err := o.dirOf(n)
			if err != nil {
				return err
			}
			_, err = statAt(fd, "", st)
			return err
		}
		return o.statNode(n, st)
	})
}

func (n *Node) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if errno := n.stat(ctx, f, &st); errno != 0 {
		return errno
	}
	n.fillAttr(out, &st)
	return 0
}

// fillAttr answers a request for the node's attributes with st.
func (n *Node) fillAttr(out *fuse.AttrOut, st *syscall.Stat_t) {
	out.FromStat(st)
	n.noteMode(uint32(st.Mode))
	if n.inClosedDir() {
		out.SetTimeout(uncached)
	}
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
	o, errno := n.fsys.begin(ctx)
	if errno != 0 {
		return nil, errno
	}
	defer o.done()
	var target []byte
	errno = o.run(func() error {
		t, err := o.objectOf(n)
		if err != nil {
			return err
		}
		for size := 256; ; size *= 2 {
			buf := make([]byte, size)
			m, err := t.readlink(buf)
			if err != nil {
				return err
			}
			if m < size {
				target = buf[:m]
				return nil
			}
		}
	})
	return target, errno
}

// Access answers access(2) and chdir: SOURCE's own answer for the caller
// (faccessat with the effective ids the caller's thread acts with), so
// ACLs and every other rule of SOURCE apply.
func (n *Node) Access(ctx context.Context, mask uint32) syscall.Errno {
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
		return t.access(mask)
	})
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
