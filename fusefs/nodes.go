package fusefs

import (
	"sync"

	"github.com/hanwen/go-fuse/v2/fs"
)

// nodeIndex finds the nodes the mount knows of one SOURCE inode: a file
// with several names (hard links) has one node, reached under each name
// go-fuse has looked up, but a change made underneath names only one of
// them. go-fuse keeps nodes by its own node id only.
type nodeIndex struct {
	mu    sync.Mutex
	byIno map[uint64]map[*Node]struct{}
}

func (x *nodeIndex) add(n *Node) {
	ino := n.StableAttr().Ino
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.byIno == nil {
		x.byIno = map[uint64]map[*Node]struct{}{}
	}
	if x.byIno[ino] == nil {
		x.byIno[ino] = map[*Node]struct{}{}
	}
	x.byIno[ino][n] = struct{}{}
}

func (x *nodeIndex) remove(n *Node) {
	ino := n.StableAttr().Ino
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.byIno[ino], n)
	if len(x.byIno[ino]) == 0 {
		delete(x.byIno, ino)
	}
}

// invalidate drops the kernel's cached attributes (and pages from off;
// -1: none) of every node of the inode ino.
func (x *nodeIndex) invalidate(ino uint64, off int64) {
	x.mu.Lock()
	var nodes []*fs.Inode
	for n := range x.byIno[ino] {
		nodes = append(nodes, &n.Inode)
	}
	x.mu.Unlock()
	for _, n := range nodes {
		n.NotifyContent(off, 0)
	}
}
