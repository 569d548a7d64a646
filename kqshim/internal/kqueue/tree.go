package kqueue

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// The kqueue backend's record of SOURCE: a node per object, linked to
// its directory, and the descriptors (watches) that carry its notes.

type node struct {
	name   string
	parent *node
	e      fsobj.Entry
	// kids are a watched directory's entries as last listed; nil for
	// other objects and for directories that are polled.
	kids   map[string]*node
	w      *watch
	region *region // set: a directory whose subtree is polled
}

func (n *node) IsDir() bool { return n.e.IsDir() }

// path is n's path relative to SOURCE, by the links as they are now.
func (n *node) path() string {
	var segs []string
	for i := 0; n.parent != nil && i < maxDepth; i++ {
		segs = append(segs, n.name)
		n = n.parent
	}
	return joinReversed(segs)
}

// attached: n is in the tree (reachable from the root).
func (n *node) attached(root *node) bool {
	for i := 0; n.parent != nil && i < maxDepth; i++ {
		if n.parent.kids[n.name] != n {
			return false
		}
		n = n.parent
	}
	return n == root
}

// watch is one descriptor. Its object may have several names (hard
// links); the first still in the tree is the one data and attribute
// changes are reported under.
type watch struct {
	h      Handle
	names  []*node
	flags  Flags // the notes of the batch being translated
	closed bool
}

// region is a directory beyond the descriptor budget: its subtree is
// scanned and diffed every poll interval.
type region struct {
	last map[string]fsobj.Entry
	mark uint64 // the ledger mark taken before last was scanned
}

// parked is an object that left its directory for a place not known yet
// (no F_GETPATH): it keeps its descriptor, out of the tree, until a
// directory's listing shows where it went or the grace runs out.
type parked struct {
	from  string // the path it had
	since time.Time
	drain uint64
}

// ident is an object's identity: the inode number alone is handed to
// the next new file as soon as it is freed; with the birth time it is not.
type ident struct {
	ino   uint64
	birth int64
}

func identOf(e fsobj.Entry) ident { return ident{e.Ino, e.Birth} }

// same: a and b are the same object.
func same(a, b fsobj.Entry) bool {
	return a.Ino == b.Ino && a.Birth == b.Birth && a.IsDir() == b.IsDir()
}

func watchable(e fsobj.Entry) bool {
	t := e.Mode & syscall.S_IFMT
	return t == syscall.S_IFDIR || t == syscall.S_IFREG
}

// Backend is the kqueue backend: a descriptor per directory and regular
// file of SOURCE, their notes translated into changes.
type Backend struct {
	s      Sink
	src    Source
	budget int           // most descriptors to hold
	every  time.Duration // how often polled directories are scanned
	grace  time.Duration
	// locate: src.where's paths can be compared with SOURCE (F_GETPATH
	// spells SOURCE as Config does).
	locate bool

	root    *node
	watches map[Handle]*watch
	byIdent map[ident][]*node
	regions map[*node]*region
	parked  map[*node]*parked
	uncover map[*node]string // directories to hand over to polling, and why
	// stale are directories noted as changed that could not be listed
	// yet: they had moved to a place not known then. They are listed in
	// the batch that finds them.
	stale     map[*node]bool
	drains    uint64 // batches translated
	queueMark uint64 // ledger mark of the last look that found the queue empty
	behind    bool   // the last look stopped at maxBatch
	lastPoll  time.Time
	rootGone  bool

	dirs, files, polled atomic.Int64

	stopping   atomic.Bool
	mu         sync.Mutex
	running    bool
	closed     bool
	exited     chan struct{}
	releaseErr error
}

func newBackend(s Sink, src Source, every time.Duration, budget int) *Backend {
	return &Backend{
		s: s, src: src, budget: budget, every: every, grace: defaultGrace,
		watches: map[Handle]*watch{}, byIdent: map[ident][]*node{},
		regions: map[*node]*region{}, parked: map[*node]*parked{},
		uncover: map[*node]string{}, stale: map[*node]bool{}, exited: make(chan struct{}),
	}
}

// start watches the whole tree. Each directory's descriptor is registered
// before the directory is listed, so a change made after start returns
// is noted, if not listed.
func (k *Backend) start() error {
	e, err := k.s.StatRel("")
	if err != nil {
		return fmt.Errorf("kqueue: %w", err)
	}
	k.root = &node{e: e, kids: map[string]*node{}}
	if k.budget < 1 {
		k.uncover[k.root] = "descriptor budget is 0"
	} else {
		h, e, err := k.src.open(NoHandle, k.s.Source())
		if err != nil {
			return fmt.Errorf("kqueue: watch %s: %w", k.s.Source(), err)
		}
		k.root.e = e
		k.watch(k.root, h)
		k.locate = k.canLocate(h)
		k.adoptTree()
	}
	k.index(k.root)
	k.handOver()
	k.lastPoll = time.Now()
	return nil
}

// canLocate checks that where's paths spell SOURCE as Config does;
// without that, a path found for a moved object proves nothing.
func (k *Backend) canLocate(root Handle) bool {
	abs, _, err := k.src.where(root)
	if err != nil || abs == "" {
		return false
	}
	if abs != k.s.Source() {
		k.s.Logf("underneath: kqueue: SOURCE is %s to the kernel, not %s: moves are found by listing", abs, k.s.Source())
		return false
	}
	return true
}

// adoptTree lists and watches everything below the root, shallowest
// first (within the budget, the top of the tree is covered by notes).
func (k *Backend) adoptTree() {
	queue := []*node{k.root}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if d.w == nil || k.uncover[d] != "" {
			continue
		}
		ents, err := k.list(d.path(), d.e)
		if err != nil {
			continue // gone already: its parent's notes will say so
		}
		for _, name := range fsobj.SortedKeys(ents) {
			n := k.newNode(d, name, ents[name])
			d.kids[name] = n
			k.index(n)
			k.openWatch(n)
			if n.w == nil {
				continue
			}
			// A baseline, so that the first attribute change is typed.
			k.s.Baseline(n.e)
			if n.IsDir() {
				queue = append(queue, n)
			}
		}
	}
}

func (k *Backend) newNode(dir *node, name string, e fsobj.Entry) *node {
	n := &node{name: name, parent: dir, e: e}
	if e.IsDir() {
		n.kids = map[string]*node{}
	}
	return n
}

// openWatch gives n a descriptor, opened beneath its directory's. One that
// cannot be had (budget, permissions) leaves its directory uncovered:
// that directory is handed over to polling at the end of the batch.
func (k *Backend) openWatch(n *node) {
	if !watchable(n.e) || n.parent == nil || n.parent.w == nil {
		return
	}
	if w := k.watchOf(n.e, n); w != nil {
		// Another name of a watched file: one descriptor per vnode.
		n.w = w
		w.names = append(w.names, n)
		return
	}
	if len(k.watches) >= k.budget {
		k.uncovered(n, fmt.Sprintf("descriptor budget of %d reached", k.budget))
		return
	}
	h, e, err := k.src.open(n.parent.w.h, n.name)
	if err != nil {
		if !raced(err) {
			k.uncovered(n, "cannot watch: "+err.Error())
		}
		return
	}
	if !same(e, n.e) {
		// Replaced since the listing; the directory's notes will say so.
		k.src.forget(h)
		return
	}
	n.e = e
	k.watch(n, h)
}

// watchOf finds the descriptor of a file known under another name.
func (k *Backend) watchOf(e fsobj.Entry, except *node) *watch {
	if e.IsDir() {
		return nil
	}
	for _, m := range k.byIdent[identOf(e)] {
		if m != except && m.w != nil && !m.w.closed && same(m.e, e) {
			return m.w
		}
	}
	return nil
}

// raced: the name changed between the listing and the open (gone,
// turned into a symlink — ELOOP, or EMLINK on FreeBSD — or into a socket
// or device): not a reason to give up on the directory.
func raced(err error) bool {
	for _, e := range []error{fs.ErrNotExist, syscall.ELOOP, syscall.EMLINK, syscall.ENOTDIR,
		syscall.ENXIO, syscall.EOPNOTSUPP, errUnwatchable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (k *Backend) uncovered(n *node, why string) {
	dir := n
	if !n.IsDir() {
		dir = n.parent
	}
	if _, ok := k.uncover[dir]; !ok {
		k.uncover[dir] = why
	}
}

func (k *Backend) watch(n *node, h Handle) {
	w := &watch{h: h, names: []*node{n}}
	k.watches[h] = w
	n.w = w
	if n.IsDir() {
		k.dirs.Add(1)
	} else {
		k.files.Add(1)
	}
}

// unwatch takes n's name off its descriptor, and closes the descriptor
// once no name is left.
func (k *Backend) unwatch(n *node) {
	w := n.w
	if w == nil {
		return
	}
	n.w = nil
	for i, m := range w.names {
		if m == n {
			w.names = append(w.names[:i], w.names[i+1:]...)
			break
		}
	}
	if len(w.names) > 0 || w.closed {
		return
	}
	w.closed = true
	delete(k.watches, w.h)
	k.src.forget(w.h)
	if n.IsDir() {
		k.dirs.Add(-1)
	} else {
		k.files.Add(-1)
	}
}

func (k *Backend) index(n *node) {
	id := identOf(n.e)
	for _, m := range k.byIdent[id] {
		if m == n {
			return
		}
	}
	k.byIdent[id] = append(k.byIdent[id], n)
}

func (k *Backend) unindex(n *node) {
	id := identOf(n.e)
	ns := k.byIdent[id]
	for i, m := range ns {
		if m == n {
			ns = append(ns[:i], ns[i+1:]...)
			break
		}
	}
	if len(ns) == 0 {
		delete(k.byIdent, id)
	} else {
		k.byIdent[id] = ns
	}
}

// detach takes n out of its directory (it keeps its link to it).
func (k *Backend) detach(n *node) {
	if p := n.parent; p != nil && p.kids[n.name] == n {
		delete(p.kids, n.name)
	}
}

// dropTree forgets n and everything below it: descriptors, polling.
func (k *Backend) dropTree(n *node) {
	for _, kid := range n.kids {
		k.dropTree(kid)
	}
	k.unindex(n)
	k.unwatch(n)
	if n.region != nil {
		delete(k.regions, n)
		n.region = nil
		k.polled.Add(-1)
	}
	delete(k.parked, n)
	delete(k.stale, n)
}
