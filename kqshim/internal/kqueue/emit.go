package kqueue

// The emission half of a kqueue batch (batch.go has discovery and
// decision): the changes are reported in an order that is a possible
// history — a name is vacated before it is taken, a directory's contents
// leave before it does, a directory appears before its contents — and
// each is applied to the tree as it is reported, so every path is the
// one the object had at that point.

import (
	"sort"
	"strings"
	"time"

	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

type stepKind uint8

const (
	stepRemove stepKind = iota // report the name gone, drop the object
	stepPark                   // take the object out of the tree, unreported for now
	stepRename
	stepCreate
)

type step struct {
	kind  stepKind
	node  *node
	dir   *node // rename, create: where it goes
	name  string
	moved bool   // remove: it left SOURCE
	from  string // the path it had, if it is out of the tree already
	// displaced: taken out of the tree to break a cycle of renames; it
	// reappears as created (see displace).
	displaced bool
	done      bool
}

type slot struct {
	dir  *node
	name string
}

// emit reports the batch's changes in an order that is a possible
// history and applies them to the tree (see batch).
func (b *batch) emit() {
	b.expireParked()
	steps, replaced := b.plan()
	pending := map[*node]*step{}
	for _, st := range steps {
		pending[st.node] = st
	}
	for len(pending) > 0 {
		if b.pass(steps, pending, replaced) > 0 {
			continue
		}
		if !b.displace(steps, pending) {
			b.abandon(steps)
			break
		}
	}
}

// expireParked reports the objects parked in an earlier batch whose
// grace ran out and which no listing found since: they left SOURCE.
func (b *batch) expireParked() {
	for n, p := range b.k.parked {
		if b.departed[n] != nil || b.k.drains <= p.drain || time.Since(p.since) < b.k.grace {
			continue
		}
		b.k.dropTree(n)
		b.k.s.Removed(p.from, n.IsDir(), true)
	}
}

// plan lists the steps: removals (deepest first), renames, creations (in
// the order found, so directories before their contents). An object that
// went from a name another object is renamed to was replaced: the rename
// says it all.
func (b *batch) plan() ([]*step, map[*node]bool) {
	dest := map[slot]bool{}
	for _, d := range b.order {
		if d.to != nil {
			dest[slot{d.to.dir, d.to.name}] = true
		}
	}
	replaced := map[*node]bool{}
	var removes, renames, creates []*step
	for _, d := range b.order {
		n := d.node
		switch {
		case d.fate == fateMoved:
			renames = append(renames, &step{kind: stepRename, node: n, dir: d.to.dir, name: d.to.name, from: b.parkedFrom(d)})
		case d.parked != nil:
			// Still out of the tree, still waiting.
		case dest[slot{n.parent, n.name}]:
			replaced[n] = true
		case d.fate == fateParks:
			removes = append(removes, &step{kind: stepPark, node: n})
		default:
			removes = append(removes, &step{kind: stepRemove, node: n, moved: d.fate == fateLeft})
		}
	}
	paths := map[*node]string{}
	for _, st := range removes {
		paths[st.node] = st.node.path()
	}
	sort.SliceStable(removes, func(i, j int) bool { return fsobj.DeeperFirst(paths[removes[i].node], paths[removes[j].node]) })
	for _, a := range b.arrivals {
		if a.node != nil {
			creates = append(creates, &step{kind: stepCreate, node: a.node, dir: a.dir, name: a.name})
		}
	}
	return append(append(removes, renames...), creates...), replaced
}

func (b *batch) parkedFrom(d *departure) string {
	if d.parked != nil {
		return d.parked.from
	}
	return ""
}

// pass applies every step that is ready, in order; it returns how many.
func (b *batch) pass(steps []*step, pending map[*node]*step, replaced map[*node]bool) int {
	done := 0
	for _, st := range steps {
		if st.done || !b.ready(st, pending, replaced) {
			continue
		}
		b.apply(st)
		st.done = true
		delete(pending, st.node)
		done++
	}
	return done
}

func (b *batch) ready(st *step, pending map[*node]*step, replaced map[*node]bool) bool {
	root := b.k.root
	switch st.kind {
	case stepRemove, stepPark:
		return st.node.attached(root) && !busy(st.node, pending)
	case stepRename:
		if st.from == "" && !st.displaced && !st.node.attached(root) {
			return false
		}
	}
	// Rename, create: the directory is in place, the name free.
	if pending[st.dir] != nil || !st.dir.attached(root) {
		return false
	}
	occ := st.dir.kids[st.name]
	return occ == nil || occ == st.node || (replaced[occ] && !busy(occ, pending))
}

// busy: something in directory n has a step still to take.
func busy(n *node, pending map[*node]*step) bool {
	for _, kid := range n.kids {
		if pending[kid] != nil {
			return true
		}
	}
	return false
}

func (b *batch) apply(st *step) {
	k, n := b.k, st.node
	switch st.kind {
	case stepRemove:
		rel := n.path()
		k.detach(n)
		k.dropTree(n)
		k.s.Removed(rel, n.IsDir(), st.moved)
	case stepPark:
		k.parked[n] = &parked{from: n.path(), since: time.Now(), drain: k.drains}
		k.detach(n)
	case stepRename:
		from := st.from
		if from == "" {
			from = n.path()
		}
		occ := st.dir.kids[st.name]
		replaced := occ != nil && occ != n
		if replaced {
			k.detach(occ)
			k.dropTree(occ)
		}
		k.detach(n)
		delete(k.parked, n)
		n.parent, n.name = st.dir, st.name
		st.dir.kids[st.name] = n
		if st.displaced {
			k.reappeared(n)
			return
		}
		k.s.Renamed(from, n.path(), replaced)
	case stepCreate:
		n.parent, n.name = st.dir, st.name
		st.dir.kids[st.name] = n
		k.index(n)
		if w := n.w; w != nil && !w.closed && !has(w.names, n) {
			w.names = append(w.names, n) // a new hard link
		}
		// Reported even if gone again (its removal follows, by the
		// directory's next listing).
		k.s.Created(n.path(), n.IsDir(), false)
	}
}

// reappeared reports a displaced object, and what is in it, as moved in.
func (k *Backend) reappeared(n *node) {
	queue := []*node{n}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		k.s.Created(m.path(), m.IsDir(), m == n)
		for _, name := range fsobj.SortedKeys(m.kids) {
			queue = append(queue, m.kids[name])
		}
	}
}

func has(ns []*node, n *node) bool {
	for _, m := range ns {
		if m == n {
			return true
		}
	}
	return false
}

// displace breaks a cycle of renames (a swap: the listings show each of
// two names now holding the other's object): the object holding the name
// the first waiting rename wants is taken out of the tree unreported and
// later reported as created at its new name. Two renames would not do: a
// reader applying "rename b <- a; rename a <- b" in turn ends up with
// one object, not two. This history (b replaced by a's object, then a
// new object at a) is a true one, if less precise.
func (b *batch) displace(steps []*step, pending map[*node]*step) bool {
	for _, st := range steps {
		if st.done || st.kind != stepRename || pending[st.dir] != nil || !st.dir.attached(b.k.root) {
			continue
		}
		occ := st.dir.kids[st.name]
		if occ == nil {
			continue
		}
		if o := pending[occ]; o != nil && o.kind == stepRename && !o.displaced {
			o.displaced = true
			b.k.detach(occ)
			return true
		}
	}
	return false
}

// abandon gives up on steps that cannot be ordered (which a consistent
// tree never leaves): their objects are dropped and subscribers told to
// re-read the tree.
func (b *batch) abandon(steps []*step) {
	for _, st := range steps {
		if st.done {
			continue
		}
		b.k.detach(st.node)
		b.k.dropTree(st.node)
	}
	b.k.s.Rescan("", "kqueue: changes of one batch could not be put in order")
}

// joinReversed joins path segments listed from the leaf up.
func joinReversed(segs []string) string {
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return strings.Join(segs, "/")
}
