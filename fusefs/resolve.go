package fusefs

import (
	"context"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/beneath"
)

// op is one request's work on SOURCE: who asked, and the descriptors its
// resolution opened or borrowed (given back by done).
//
// Resolution acts on the object the node names, never on whatever holds
// its name now. A caller with the daemon's own powers (root) resolves
// through directory descriptors the nodes pin (dirpin.go), so depth and
// path length cost what they cost natively. Anyone else resolves from
// SOURCE's root, as themselves, so that the kernel checks search
// permission on every ancestor exactly as it would natively (a pinned
// descriptor would skip directories the caller may not cross). Either
// way the object reached is compared with the node's identity (inode and
// birth time): a name swapped in SOURCE gives ESTALE, on which the kernel
// looks the name up again.
type op struct {
	f     *FS
	c     creds
	uid   uint32 // the caller's uid as the kernel sent it
	close []int
	drop  []*dirPin
	owner []*Node
}

// begin starts an operation for the caller of ctx.
func (f *FS) begin(ctx context.Context) (*op, syscall.Errno) {
	select {
	case <-f.lost:
		return nil, syscall.ENOTCONN
	default:
	}
	c, errno := f.caller(ctx)
	if errno != 0 {
		return nil, errno
	}
	o := &op{f: f, c: c}
	if caller, ok := fuse.FromContext(ctx); ok {
		o.uid = caller.Uid
	}
	return o, 0
}

// beginOpen starts an operation that opens a handle: it takes one from
// the caller's handle budget (EMFILE when her share is open), to be given
// back if the open fails.
func (f *FS) beginOpen(ctx context.Context) (*op, syscall.Errno) {
	o, errno := f.begin(ctx)
	if errno != 0 {
		return nil, errno
	}
	if !f.budget.take(o.uid) {
		o.done()
		return nil, syscall.EMFILE
	}
	return o, 0
}

// done releases what the operation's resolution opened.
func (o *op) done() {
	for _, fd := range o.close {
		unix.Close(fd)
	}
	for i, p := range o.drop {
		o.owner[i].unrefPin(p)
	}
	o.close, o.drop, o.owner = o.close[:0], o.drop[:0], o.owner[:0]
}

// run calls fn acting as the caller; every system call on SOURCE, the
// resolution included, belongs inside.
func (o *op) run(fn func() error) syscall.Errno {
	return fs.ToErrno(o.f.ids.run(&o.c, fn))
}

// dirOf returns a descriptor of the directory node d, to act on its
// entries with *at() calls.
func (o *op) dirOf(d *Node) (int, error) {
	if d == o.f.root {
		return o.f.rootfd, nil
	}
	if o.c.privileged() {
		return o.pinned(d)
	}
	rel, errno := d.relPath()
	if errno != 0 {
		return -1, errno
	}
	fd, err := beneath.OpenDir(o.f.rootfd, rel)
	if err != nil {
		return -1, err
	}
	o.close = append(o.close, fd)
	return fd, o.f.verify(fd, "", d)
}

// parentOf returns the pair (dirfd, name) that *at() calls on the node n
// itself take. The root is (its own descriptor, ""): use AT_EMPTY_PATH.
func (o *op) parentOf(n *Node) (int, string, error) {
	if n == o.f.root {
		return o.f.rootfd, "", nil
	}
	name, parent := n.Parent()
	if parent == nil {
		return -1, "", syscall.ENOENT // its last name is gone
	}
	pn, ok := parent.Operations().(*Node)
	if !ok {
		return -1, "", syscall.EIO
	}
	dirfd, err := o.dirOf(pn)
	return dirfd, name, err
}

// statNode stats the node's object by name in its parent, checking that
// it still is the node's object.
func (o *op) statNode(n *Node, st *syscall.Stat_t) error {
	dirfd, name, err := o.parentOf(n)
	if err != nil {
		return err
	}
	gen, err := statAt(dirfd, name, st)
	if err != nil {
		return err
	}
	return o.f.sameObject(n, st, gen)
}

// verify checks that name in dirfd ("" : dirfd itself) is n's object.
func (f *FS) verify(dirfd int, name string, n *Node) error {
	var st syscall.Stat_t
	gen, err := statAt(dirfd, name, &st)
	if err != nil {
		return err
	}
	return f.sameObject(n, &st, gen)
}

// sameObject: st (with birth-time generation gen) is the object n stands
// for. A birth time missing on either side (gen 1) is no evidence of
// replacement; the inode number still has to match.
func (f *FS) sameObject(n *Node, st *syscall.Stat_t, gen uint64) error {
	a := n.StableAttr()
	if a.Ino != f.stableIno(uint64(st.Dev), st.Ino) || (a.Gen != gen && a.Gen > 1 && gen > 1) {
		return syscall.ESTALE
	}
	return nil
}

// splitRel splits a node path into its parent directory and base name.
// The root ("") yields ("", ".").
func splitRel(rel string) (dir, name string) {
	if rel == "" {
		return "", "."
	}
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

// joinRel joins a directory path and a name.
func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// pinFresh: a pin validated in the current tree generation may be used
// as is. Without a watcher nothing tells the mount that a directory moved
// out of SOURCE, so pins are then checked again after the entry timeout,
// as a name would be.
func (f *FS) pinFresh(p *dirPin) bool {
	if p.checked != f.treeGen.Load() {
		return false
	}
	return f.underneath != nil || time.Since(p.at) < f.opts.EntryTimeout
}
