package kqueue

import (
	"sort"
	"time"

	"github.com/notifyfs/notifyfs/internal/relpath"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// batch works out what one batch of notes means.
//
// # Discovery
//
// The directories whose listing the notes call into question are listed
// (shallowest first, each at most once, at the path it has after the
// moves found so far) and compared with their previous listing: a name
// gone is a departure, a new name (or a name now another object) an
// arrival. A departure and an arrival of one object are a rename, found
// whichever directory is listed first. The rest is chased down:
//
//   - an arrival of a known object whose old directory has not been
//     listed: that directory is listed too (its note may be still to come);
//   - a departure whose object still exists (its descriptor's link count)
//     and whose new path the system can tell: the directory there is
//     listed;
//   - a directory that was deleted: its contents departed with it (each
//     may have moved out first);
//   - an arrival of nothing known: a new object, watched at once; a new
//     directory is listed (its contents are new, or moved in).
//
// # Decision
//
// A departure not paired with an arrival was removed (its link count is
// 0, or it has another name still); or left SOURCE (its path says so);
// or, with no path to go by, is parked: taken out of the tree,
// unreported, its descriptor kept, until a later listing finds it (a
// rename, reported then) or a drain after the grace has not (it left).
// A rename's notes are posted in one system call, but a read can fall
// between them; FreeBSD posts the directories' before the object's.
//
// A departed object whose name another object is renamed to was replaced:
// the rename reports both (as inotify's IN_MOVED_TO does).
//
// # Emission
//
// The changes are reported in an order that is a possible history: a
// name is vacated before it is taken, a directory's contents leave before
// it does, a directory appears before its contents. Each change is
// applied to the tree as it is reported, so every path is the one the
// object had at that point.
type batch struct {
	k        *Backend
	dirty    map[*node]bool
	listed   map[*node]bool
	failed   map[*node]string // the path at which a listing failed
	departed map[*node]*departure
	order    []*departure
	arrivals []*arrival
	fresh    map[*node]bool // nodes of new objects, not in the tree yet
	// open departures and arrivals, by identity, for pairing
	loose   map[ident][]*departure
	unknown map[ident][]*arrival
}

// departure is an object gone from the name it had in the tree.
type departure struct {
	node   *node
	to     *arrival
	parked *parked // it had been parked: the node is out of the tree
	fate   fate
	// what its descriptor said (asked once): its path, if the system
	// tells, and link count
	located  bool
	abs      string
	nlink    uint32
	err      error
	expanded bool // a deleted directory whose contents departed too
	polled   bool // its new place is in a polled directory
}

// arrival is a name found in a listing that the tree does not have.
type arrival struct {
	dir  *node
	name string
	e    fsobj.Entry
	from *departure // it moved here
	node *node      // a new object, or a new name of a known one
}

func (a *arrival) open() bool { return a.from == nil && a.node == nil }

// fate is what became of a departed object.
type fate uint8

const (
	fateUndecided fate = iota
	fateMoved          // paired with an arrival
	fateRemoved        // gone (or this name of it is)
	fateLeft           // moved out of SOURCE
	fateParks          // not known yet
)

func newBatch(k *Backend) *batch {
	return &batch{
		k: k, dirty: map[*node]bool{}, listed: map[*node]bool{}, failed: map[*node]string{},
		departed: map[*node]*departure{}, fresh: map[*node]bool{},
		loose: map[ident][]*departure{}, unknown: map[ident][]*arrival{},
	}
}

// discover lists and chases until nothing is left to look at; each step
// is tried only when those before it have nothing to do.
func (b *batch) discover() {
	for b.list() || b.chase() || b.locate() || b.expand() || b.resolve() {
	}
}

type dirAt struct {
	node *node
	rel  string
}

// list lists the dirty directories whose path is known now.
func (b *batch) list() bool {
	var dirs []dirAt
	for d := range b.dirty {
		if d.kids == nil || b.listed[d] {
			delete(b.dirty, d)
			continue
		}
		rel, ok := b.newPath(d)
		if failed, tried := b.failed[d]; ok && !(tried && failed == rel) {
			dirs = append(dirs, dirAt{d, rel})
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return fsobj.ShallowerFirst(dirs[i].rel, dirs[j].rel) })
	for _, d := range dirs {
		ents, err := b.k.list(d.rel, d.node.e)
		if err != nil {
			// Not where the tree says: its directory's listing will
			// tell where it went.
			b.failed[d.node] = d.rel
			if p := d.node.parent; p != nil && !b.listed[p] {
				b.dirty[p] = true
			}
			continue
		}
		b.listed[d.node] = true
		delete(b.dirty, d.node)
		b.compare(d.node, ents)
	}
	return len(dirs) > 0
}

// newPath is where n is after the moves found so far; false while that is
// not known (n, or a directory above it, left and has not been found).
func (b *batch) newPath(n *node) (string, bool) {
	var segs []string
	for i := 0; n != b.k.root; i++ {
		if i > maxDepth {
			return "", false
		}
		if d := b.departed[n]; d != nil {
			if d.to == nil {
				return "", false
			}
			segs = append(segs, d.to.name)
			n = d.to.dir
			continue
		}
		p := n.parent
		if p == nil || (p.kids[n.name] != n && !b.fresh[n]) {
			return "", false
		}
		segs = append(segs, n.name)
		n = p
	}
	return joinReversed(segs), true
}

// compare finds what left and what came into d since its last listing.
func (b *batch) compare(d *node, ents map[string]fsobj.Entry) {
	for _, name := range fsobj.SortedKeys(d.kids) {
		kid := d.kids[name]
		if b.departed[kid] != nil {
			continue
		}
		if e, ok := ents[name]; ok && same(e, kid.e) {
			continue
		}
		b.depart(kid)
	}
	for _, name := range fsobj.SortedKeys(ents) {
		if kid := d.kids[name]; kid != nil && b.departed[kid] == nil {
			continue
		}
		b.arrive(d, name, ents[name])
	}
}

func (b *batch) depart(n *node) *departure {
	d := &departure{node: n}
	b.departed[n] = d
	b.order = append(b.order, d)
	id := identOf(n.e)
	for _, a := range b.unknown[id] {
		if b.matches(d, a) {
			b.pair(d, a)
			return d
		}
	}
	b.loose[id] = append(b.loose[id], d)
	return d
}

func (b *batch) arrive(dir *node, name string, e fsobj.Entry) {
	a := &arrival{dir: dir, name: name, e: e}
	b.arrivals = append(b.arrivals, a)
	id := identOf(e)
	for _, d := range b.loose[id] {
		if b.matches(d, a) {
			b.pair(d, a)
			return
		}
	}
	b.unknown[id] = append(b.unknown[id], a)
}

// matches: d's object is the one that arrived. Without birth times an
// inode number can be reused at once; a descriptor then tells whether
// the departed object still exists.
func (b *batch) matches(d *departure, a *arrival) bool {
	if !same(d.node.e, a.e) {
		return false
	}
	if a.e.Birth == 0 && d.node.w != nil {
		b.where(d)
		return d.err == nil && d.nlink > 0
	}
	return true
}

func (b *batch) pair(d *departure, a *arrival) {
	d.to, a.from = a, d
	id := identOf(a.e)
	b.loose[id] = without(b.loose[id], d)
	b.unknown[id] = without(b.unknown[id], a)
}

func without[T comparable](xs []T, x T) []T {
	for i, y := range xs {
		if y == x {
			return append(xs[:i], xs[i+1:]...)
		}
	}
	return xs
}

// where asks the descriptor of d's object where it is (once).
func (b *batch) where(d *departure) {
	if d.located {
		return
	}
	d.located = true
	if d.node.w == nil {
		d.err = errUnwatchable
		return
	}
	d.abs, d.nlink, d.err = b.k.src.where(d.node.w.h)
}

// chase follows arrivals of known objects back to where they were.
func (b *batch) chase() bool {
	progress := false
	for _, a := range b.arrivals {
		if !a.open() {
			continue
		}
		for _, n := range b.k.byIdent[identOf(a.e)] {
			if b.departed[n] != nil || n == b.k.root || !same(n.e, a.e) {
				continue
			}
			if p := b.k.parked[n]; p != nil || b.lostAbove(n) {
				// Parked, or its directory is gone from where it was:
				// it left its place too.
				d := b.depart(n)
				d.parked = p
				progress = true
				break
			}
			if p := n.parent; p != nil && p.kids != nil && !b.listed[p] && !b.dirty[p] {
				b.dirty[p] = true
				progress = true
			}
		}
	}
	return progress
}

// lostAbove: a directory above n departed and was not found again.
func (b *batch) lostAbove(n *node) bool {
	for i, p := 0, n.parent; p != nil && i < maxDepth; i, p = i+1, p.parent {
		if d := b.departed[p]; d != nil && d.to == nil {
			return true
		}
	}
	return false
}

// locate asks where each departed object is, and lists the directory
// that holds it now.
func (b *batch) locate() bool {
	progress := false
	for _, d := range b.order {
		if d.to != nil || d.located || d.node.w == nil {
			continue
		}
		b.where(d)
		if d.err != nil || d.nlink == 0 || d.abs == "" || !b.k.locate {
			continue
		}
		if rel, ok := b.k.s.Rel(d.abs); ok && b.listHolder(rel, d) {
			progress = true
		}
	}
	return progress
}

// listHolder marks the nearest known directory above rel dirty. A new
// directory on the way is listed anyway, once it is adopted.
func (b *batch) listHolder(rel string, d *departure) bool {
	for p := relpath.Dir(rel); ; p = relpath.Dir(p) {
		if e, err := b.k.s.StatRel(p); err == nil {
			for _, n := range b.k.byIdent[identOf(e)] {
				if !same(n.e, e) {
					continue
				}
				if n.region != nil {
					d.polled = true
					return false
				}
				if n.kids == nil || b.listed[n] || b.dirty[n] {
					return false
				}
				b.dirty[n] = true
				return true
			}
		}
		if p == "" {
			return false
		}
	}
}

// expand makes the contents of each deleted directory depart with it.
func (b *batch) expand() bool {
	progress := false
	for i := 0; i < len(b.order); i++ {
		d := b.order[i]
		n := d.node
		if d.to != nil || d.expanded || n.kids == nil || d.parked != nil {
			continue
		}
		b.where(d)
		rmdir := n.w != nil && n.w.flags&(Delete|Revoke) != 0
		if d.err == nil && d.nlink > 0 && !rmdir {
			continue // moved: its contents went with it
		}
		d.expanded = true
		for _, name := range fsobj.SortedKeys(n.kids) {
			if kid := n.kids[name]; b.departed[kid] == nil {
				b.depart(kid)
				progress = true
			}
		}
	}
	return progress
}

// resolve takes the remaining arrivals as new: a new name of an object
// still known elsewhere is a hard link; anything else is a new object,
// watched at once (a new directory is then listed).
func (b *batch) resolve() bool {
	progress := false
	for _, a := range b.arrivals {
		if !a.open() {
			continue
		}
		progress = true
		b.unknown[identOf(a.e)] = without(b.unknown[identOf(a.e)], a)
		if m := b.otherLink(a); m != nil {
			a.node = &node{name: a.name, parent: a.dir, e: a.e, w: m.w}
			b.fresh[a.node] = true
			continue
		}
		n := b.k.newNode(a.dir, a.name, a.e)
		a.node = n
		b.fresh[n] = true
		b.k.openWatch(n)
		if n.w != nil && n.IsDir() {
			b.dirty[n] = true
		}
	}
	return progress
}

// otherLink finds a name of a's object that stays where it was.
func (b *batch) otherLink(a *arrival) *node {
	if a.e.IsDir() {
		return nil
	}
	for _, n := range b.k.byIdent[identOf(a.e)] {
		if b.departed[n] == nil && b.k.parked[n] == nil && same(n.e, a.e) && n.attached(b.k.root) {
			return n
		}
	}
	return nil
}

// decide settles the fate of each departure not paired with an arrival.
func (b *batch) decide() {
	for _, d := range b.order {
		if d.to != nil {
			d.fate = fateMoved
			continue
		}
		d.fate = b.fateOf(d)
	}
}

func (b *batch) fateOf(d *departure) fate {
	n := d.node
	if n.w == nil {
		return fateRemoved // no descriptor to ask: gone, as far as can be told
	}
	b.where(d)
	switch {
	case d.err != nil || d.nlink == 0:
		return fateRemoved
	case b.otherName(n):
		return fateRemoved // this name went; the object keeps another
	case n.w.flags&(Delete|Revoke) != 0:
		return fateRemoved // unlinked here, linked outside SOURCE
	case d.polled:
		return fateLeft // moved into a polled directory: its scans report the arrival
	case b.k.locate && d.abs != "":
		if _, inside := b.k.s.Rel(d.abs); !inside {
			return fateLeft
		}
	}
	if p := d.parked; p != nil && b.k.drains > p.drain && time.Since(p.since) >= b.k.grace {
		return fateLeft
	}
	return fateParks
}

func (b *batch) otherName(n *node) bool {
	for _, m := range n.w.names {
		if m != n && b.departed[m] == nil && m.attached(b.k.root) {
			return true
		}
	}
	return false
}
