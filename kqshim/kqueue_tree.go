package kqshim

import (
	"errors"
	"fmt"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
	"io/fs"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The kqueue backend's record of SOURCE: a node per object, linked to
// its directory, and the descriptors (watches) that carry its notes.

type kqNode struct {
	name   string
	parent *kqNode
	e      entry
	// kids are a watched directory's entries as last listed; nil for
	// other objects and for directories that are polled.
	kids   map[string]*kqNode
	w      *kqWatch
	region *kqRegion // set: a directory whose subtree is polled
}

func (n *kqNode) IsDir() bool { return n.e.IsDir() }

// path is n's path relative to SOURCE, by the links as they are now.
func (n *kqNode) path() string {
	var segs []string
	for i := 0; n.parent != nil && i < kqMaxDepth; i++ {
		segs = append(segs, n.name)
		n = n.parent
	}
	return kqJoinReversed(segs)
}

// attached: n is in the tree (reachable from the root).
func (n *kqNode) attached(root *kqNode) bool {
	for i := 0; n.parent != nil && i < kqMaxDepth; i++ {
		if n.parent.kids[n.name] != n {
			return false
		}
		n = n.parent
	}
	return n == root
}

// kqWatch is one descriptor. Its object may have several names (hard
// links); the first still in the tree is the one data and attribute
// changes are reported under.
type kqWatch struct {
	h      kqHandle
	names  []*kqNode
	flags  kqFlags // the notes of the batch being translated
	closed bool
}

// kqRegion is a directory beyond the descriptor budget: its subtree is
// scanned and diffed every poll interval.
type kqRegion struct {
	last tree
	mark uint64 // the ledger mark taken before last was scanned
}

// kqParked is an object that left its directory for a place not known yet
// (no F_GETPATH): it keeps its descriptor, out of the tree, until a
// directory's listing shows where it went or the grace runs out.
type kqParked struct {
	from  string // the path it had
	since time.Time
	drain uint64
}

// kqIdent is an object's identity: the inode number alone is handed to
// the next new file as soon as it is freed; with the birth time it is not.
type kqIdent struct {
	ino   uint64
	birth int64
}

func kqIdentOf(e entry) kqIdent { return kqIdent{e.Ino, e.Birth} }

// kqSame: a and b are the same object.
func kqSame(a, b entry) bool {
	return a.Ino == b.Ino && a.Birth == b.Birth && a.IsDir() == b.IsDir()
}

func kqWatchable(e entry) bool {
	t := e.Mode & syscall.S_IFMT
	return t == syscall.S_IFDIR || t == syscall.S_IFREG
}

// kqBackend is the kqueue backend: a descriptor per directory and regular
// file of SOURCE, their notes translated into changes.
type kqBackend struct {
	s      *sink
	src    kqSource
	budget int           // most descriptors to hold
	every  time.Duration // how often polled directories are scanned
	grace  time.Duration
	// locate: src.where's paths can be compared with SOURCE (F_GETPATH
	// spells SOURCE as Config does).
	locate bool

	root    *kqNode
	watches map[kqHandle]*kqWatch
	byIdent map[kqIdent][]*kqNode
	regions map[*kqNode]*kqRegion
	parked  map[*kqNode]*kqParked
	uncover map[*kqNode]string // directories to hand over to polling, and why
	// stale are directories noted as changed that could not be listed
	// yet: they had moved to a place not known then. They are listed in
	// the batch that finds them.
	stale    map[*kqNode]bool
	drains   uint64 // batches translated
	kqMark   uint64 // ledger mark of the last look that found the queue empty
	behind   bool   // the last look stopped at kqMaxBatch
	lastPoll time.Time
	rootGone bool

	dirs, files, polled atomic.Int64

	stopping   atomic.Bool
	mu         sync.Mutex
	running    bool
	closed     bool
	exited     chan struct{}
	releaseErr error
}

func newKqBackend(s *sink, src kqSource, opts Options, budget int) *kqBackend {
	return &kqBackend{
		s: s, src: src, budget: budget, every: opts.PollInterval, grace: kqGrace,
		watches: map[kqHandle]*kqWatch{}, byIdent: map[kqIdent][]*kqNode{},
		regions: map[*kqNode]*kqRegion{}, parked: map[*kqNode]*kqParked{},
		uncover: map[*kqNode]string{}, stale: map[*kqNode]bool{}, exited: make(chan struct{}),
	}
}

// start watches the whole tree. Each directory's descriptor is registered
// before the directory is listed, so a change made after start returns
// is noted, if not listed.
func (k *kqBackend) start() error {
	e, err := k.s.statRel("")
	if err != nil {
		return fmt.Errorf("kqueue: %w", err)
	}
	k.root = &kqNode{e: e, kids: map[string]*kqNode{}}
	if k.budget < 1 {
		k.uncover[k.root] = "descriptor budget is 0"
	} else {
		h, e, err := k.src.open(kqNoHandle, k.s.source)
		if err != nil {
			return fmt.Errorf("kqueue: watch %s: %w", k.s.source, err)
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
func (k *kqBackend) canLocate(root kqHandle) bool {
	abs, _, err := k.src.where(root)
	if err != nil || abs == "" {
		return false
	}
	if abs != k.s.source {
		if k.s.cfg.Logf != nil {
			k.s.cfg.Logf("underneath: kqueue: SOURCE is %s to the kernel, not %s: moves are found by listing", abs, k.s.source)
		}
		return false
	}
	return true
}

// adoptTree lists and watches everything below the root, shallowest
// first (within the budget, the top of the tree is covered by notes).
func (k *kqBackend) adoptTree() {
	queue := []*kqNode{k.root}
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
			k.s.attrs.swap(n.e)
			if n.IsDir() {
				queue = append(queue, n)
			}
		}
	}
}

func (k *kqBackend) newNode(dir *kqNode, name string, e entry) *kqNode {
	n := &kqNode{name: name, parent: dir, e: e}
	if e.IsDir() {
		n.kids = map[string]*kqNode{}
	}
	return n
}

// openWatch gives n a descriptor, opened beneath its directory's. One that
// cannot be had (budget, permissions) leaves its directory uncovered:
// that directory is handed over to polling at the end of the batch.
func (k *kqBackend) openWatch(n *kqNode) {
	if !kqWatchable(n.e) || n.parent == nil || n.parent.w == nil {
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
		if !kqRaced(err) {
			k.uncovered(n, "cannot watch: "+err.Error())
		}
		return
	}
	if !kqSame(e, n.e) {
		// Replaced since the listing; the directory's notes will say so.
		k.src.forget(h)
		return
	}
	n.e = e
	k.watch(n, h)
}

// watchOf finds the descriptor of a file known under another name.
func (k *kqBackend) watchOf(e entry, except *kqNode) *kqWatch {
	if e.IsDir() {
		return nil
	}
	for _, m := range k.byIdent[kqIdentOf(e)] {
		if m != except && m.w != nil && !m.w.closed && kqSame(m.e, e) {
			return m.w
		}
	}
	return nil
}

// kqRaced: the name changed between the listing and the open (gone,
// turned into a symlink — ELOOP, or EMLINK on FreeBSD — or into a socket
// or device): not a reason to give up on the directory.
func kqRaced(err error) bool {
	for _, e := range []error{fs.ErrNotExist, syscall.ELOOP, syscall.EMLINK, syscall.ENOTDIR,
		syscall.ENXIO, syscall.EOPNOTSUPP, errKqUnwatchable} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (k *kqBackend) uncovered(n *kqNode, why string) {
	dir := n
	if !n.IsDir() {
		dir = n.parent
	}
	if _, ok := k.uncover[dir]; !ok {
		k.uncover[dir] = why
	}
}

func (k *kqBackend) watch(n *kqNode, h kqHandle) {
	w := &kqWatch{h: h, names: []*kqNode{n}}
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
func (k *kqBackend) unwatch(n *kqNode) {
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

func (k *kqBackend) index(n *kqNode) {
	id := kqIdentOf(n.e)
	for _, m := range k.byIdent[id] {
		if m == n {
			return
		}
	}
	k.byIdent[id] = append(k.byIdent[id], n)
}

func (k *kqBackend) unindex(n *kqNode) {
	id := kqIdentOf(n.e)
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
func (k *kqBackend) detach(n *kqNode) {
	if p := n.parent; p != nil && p.kids[n.name] == n {
		delete(p.kids, n.name)
	}
}

// dropTree forgets n and everything below it: descriptors, polling.
func (k *kqBackend) dropTree(n *kqNode) {
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
