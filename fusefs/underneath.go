package fusefs

import (
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hanwen/go-fuse/v2/fs"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/internal/beneath"
)

// Underneath is the watcher of changes made to SOURCE behind the mount's
// back (kqshim.Watcher). Every change the mount makes on SOURCE is
// announced to it first, so that the kernel's notes of it are recognised
// as the mount's own and not reported a second time.
type Underneath interface {
	// Expect announces a change of type t to path (from: the other name
	// of a rename or link; ino and gen: the object's inode number and
	// birth time in ns, 0 if not known). done is called once the change
	// is made or has failed.
	Expect(t eventbus.Type, path, from string, ino, gen uint64) (done func())
}

// SetUnderneath connects the watcher. Call it before mounting.
func (f *FS) SetUnderneath(u Underneath) { f.underneath = u }

func noop() {}

// expect announces a change to the watcher, if there is one.
func (f *FS) expect(t eventbus.Type, path, from string, ino, gen uint64) (done func()) {
	if f.underneath == nil {
		return noop
	}
	return f.underneath.Expect(t, path, from, ino, gen)
}

// expectOn announces a change to the node itself.
func (n *Node) expectOn(t eventbus.Type) (done func()) {
	if n.fsys.underneath == nil {
		return noop
	}
	rel, _ := n.relPath()
	ino, gen := n.identity()
	return n.fsys.expect(t, rel, "", ino, gen)
}

// identity is the node's inode number on SOURCE (mixed with the device
// for objects of other filesystems mounted beneath SOURCE, which then
// only match by path) and its birth time, which tells a recycled inode
// number from the file that had it.
func (n *Node) identity() (ino, gen uint64) {
	a := n.StableAttr()
	return a.Ino, a.Gen
}

// Invalidate makes the kernel forget what it caches of the names and
// objects a change made underneath the mount touched (ev, from the
// watcher), so that the next look through the mount sees SOURCE as it
// is now, whatever the cache lifetimes. It also moves go-fuse's own
// record of names, which the mount resolves paths with.
//
// The tree is changed under the rename lock (no event may compute a path
// meanwhile); the kernel is told afterwards, with no lock held, because
// the kernel may have to wait for a request of ours to finish first.
func (f *FS) Invalidate(ev *eventbus.Event) {
	if !f.mounted.Load() {
		return
	}
	switch ev.Type {
	case eventbus.Rescan:
		f.invalidateTree(ev.Path)
	case eventbus.Create, eventbus.Mkdir, eventbus.Mknod, eventbus.Symlink, eventbus.Link,
		eventbus.Remove, eventbus.Rmdir:
		f.nameChanged(ev.Path)
		if ev.Ino != 0 && !ev.IsDir {
			f.nodes.invalidate(ev.Ino, -1) // another name's link count
		}
	case eventbus.Rename:
		f.renamed(ev.From, ev.Path)
	case eventbus.Write, eventbus.Truncate:
		f.objectChanged(ev, 0) // attributes and every cached page
	default:
		f.objectChanged(ev, -1) // attributes only
	}
}

// objectChanged invalidates what the kernel caches of the object ev is
// about, under every name the mount knows it by (hard links), from
// offset off (-1: attributes only).
func (f *FS) objectChanged(ev *eventbus.Event, off int64) {
	if n := f.lookupCached(ev.Path); n != nil {
		n.NotifyContent(off, 0)
	}
	if ev.HasAttr {
		f.nodes.invalidate(ev.Ino, off)
	}
}

// lookupCached walks go-fuse's tree to rel; nil if the mount has not
// looked it up (then the kernel caches nothing of it either).
func (f *FS) lookupCached(rel string) *fs.Inode {
	n := &f.root.Inode
	if rel == "" {
		return n
	}
	for _, seg := range strings.Split(rel, "/") {
		if n = n.GetChild(seg); n == nil {
			return nil
		}
	}
	return n
}

// nameChanged: the name rel was made or removed underneath. The kernel
// drops its entry (positive or negative) and the directory's attributes.
// go-fuse forgets the child it knows under that name unless it is still
// the object SOURCE has there: by the time the note is handled the name
// may already have been made again and looked up through the mount, and
// that object must stay. Entries are only invalidated, never reported
// deleted to the kernel, for the same reason.
func (f *FS) nameChanged(rel string) {
	dir, name := splitRel(rel)
	parent := f.lookupCached(dir)
	if parent == nil {
		return
	}
	child := parent.GetChild(name)
	if child != nil && !f.stillThere(rel, child) {
		func() {
			defer f.names.lockExclusive()()
			if parent.GetChild(name) == child {
				parent.RmChild(name)
			}
		}()
	}
	parent.NotifyEntry(name)
	parent.NotifyContent(-1, 0)
	if child != nil && !child.IsDir() {
		f.nodes.invalidate(child.StableAttr().Ino, -1) // its other names' link count
	}
}

// stillThere reports whether SOURCE has the object child stands for at rel.
func (f *FS) stillThere(rel string, child *fs.Inode) bool {
	dir, name := splitRel(rel)
	dirfd, err := beneath.OpenDir(f.rootfd, dir)
	if err != nil {
		return false
	}
	defer unix.Close(dirfd)
	var st syscall.Stat_t
	gen, err := statAt(dirfd, name, &st)
	if err != nil {
		return false
	}
	a := child.StableAttr()
	return a.Ino == f.stableIno(uint64(st.Dev), uint64(st.Ino)) && (a.Gen == gen || a.Gen <= 1 || gen <= 1)
}

// renamed: from moved to to, underneath.
func (f *FS) renamed(from, to string) {
	odir, oname := splitRel(from)
	ndir, nname := splitRel(to)
	op, np := f.lookupCached(odir), f.lookupCached(ndir)
	func() {
		defer f.names.lockExclusive()()
		var src *fs.Inode
		if op != nil {
			src = op.GetChild(oname)
		}
		// Each step only where SOURCE shows it: by now the names may
		// have moved on (the other half of an exchange, a later rename).
		if src != nil && np != nil && f.stillThere(to, src) {
			op.MvChild(oname, np, nname, true)
			return
		}
		if src != nil && !f.stillThere(from, src) {
			op.RmChild(oname)
		}
		if np != nil {
			if dst := np.GetChild(nname); dst != nil && !f.stillThere(to, dst) {
				np.RmChild(nname) // replaced: the mount must not act on it by this name
			}
		}
	}()
	for _, p := range []struct {
		dir  *fs.Inode
		name string
	}{{op, oname}, {np, nname}} {
		if p.dir != nil {
			p.dir.NotifyEntry(p.name)
			p.dir.NotifyContent(-1, 0)
		}
	}
}

// invalidateTree forgets everything cached at and below rel: changes
// there were lost, so nothing the kernel or go-fuse holds of the names
// can be trusted. Objects still open keep working through their handles.
func (f *FS) invalidateTree(rel string) {
	top := f.lookupCached(rel)
	if top == nil {
		return
	}
	type dentry struct {
		parent *fs.Inode
		name   string
	}
	var names []dentry
	var nodes []*fs.Inode
	func() {
		defer f.names.lockExclusive()()
		var walk func(n *fs.Inode, rel string)
		walk = func(n *fs.Inode, rel string) {
			nodes = append(nodes, n)
			for name, ch := range n.Children() {
				chRel := joinRel(rel, name)
				walk(ch, chRel)
				names = append(names, dentry{n, name})
				// A node SOURCE still has at its name stays: a process may
				// be using it (a working directory, an open directory).
				if !f.stillThere(chRel, ch) {
					n.RmChild(name)
				}
			}
		}
		walk(top, rel)
	}()
	for _, d := range names {
		d.parent.NotifyEntry(d.name)
	}
	for _, n := range nodes {
		n.NotifyContent(0, 0)
	}
}
