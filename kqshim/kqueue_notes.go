package kqshim

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// This file is the kqueue backend's translation of vnode notes into
// changes (the model is described in backend_kqueue.go). It has no build
// tag: the kernel side sits behind kqSource, so the translation builds
// everywhere and is tested on every system against a fake source and a
// real directory tree (kqueue_notes_test.go).

// kqFlags are kqueue's vnode notes (EVFILT_VNODE fflags) in the package's
// own bits.
type kqFlags uint32

const (
	kqDelete kqFlags = 1 << iota // NOTE_DELETE: unlinked (FreeBSD: any of its names), rmdir'ed
	kqWrite                      // NOTE_WRITE: a file's data; a directory's entries
	kqExtend                     // NOTE_EXTEND: a file grew; (FreeBSD) an entry moved between directories
	kqAttrib                     // NOTE_ATTRIB
	kqLink                       // NOTE_LINK: the link count changed
	kqRename                     // NOTE_RENAME
	kqRevoke                     // NOTE_REVOKE: revoke(2), or its filesystem went away

	// kqEntries: on a directory, its entries changed.
	kqEntries = kqWrite | kqExtend | kqLink
	// kqGone: the object left its name (or lost access to it).
	kqGone = kqDelete | kqRename | kqRevoke
)

// kqHandle names one watched object of a kqSource (the descriptor).
type kqHandle int

const kqNoHandle kqHandle = -1

// kqNote is one note read from the kernel's queue.
type kqNote struct {
	h     kqHandle
	flags kqFlags
}

// kqSource is the kernel side of the kqueue backend: descriptors and their
// notes. backend_kqueue.go has the real one.
type kqSource interface {
	// open watches the object called name in the watched directory dir,
	// resolved beneath it without following a symlink; with kqNoHandle,
	// the directory at the absolute path name. It returns the identity
	// of what it opened, and errKqUnwatchable if that is neither a
	// directory nor a regular file.
	open(dir kqHandle, name string) (kqHandle, entry, error)
	// forget stops watching h and releases its descriptor. Notes of h
	// still queued are discarded with it.
	forget(h kqHandle)
	// read returns the notes queued, waiting up to timeout for the first
	// when there are none (0: not at all, < 0: without limit). It returns
	// nothing when the timeout passes or interrupt is called.
	read(timeout time.Duration) ([]kqNote, error)
	// interrupt makes a read that is waiting return now (or the next
	// one, if none is waiting).
	interrupt()
	// where reports the link count of h's object and, where the system
	// can tell (macOS: F_GETPATH), its absolute path now; "" otherwise.
	where(h kqHandle) (abs string, nlink uint32, err error)
	// close releases the queue.
	close() error
}

var errKqUnwatchable = errors.New("kqshim: neither a directory nor a regular file")

const (
	// kqGrace is how long an object that left its directory for a place
	// not known yet waits for the rest of its notes (a read can fall
	// between the notes one rename(2) posts) before it is taken to have
	// left SOURCE.
	kqGrace = 10 * time.Millisecond
	// kqMaxBatch bounds the notes translated at once, so that a flood
	// is still reported while it lasts.
	kqMaxBatch = 1 << 16
	// kqMaxDepth guards path walks against a cycle of bad links.
	kqMaxDepth = 4096
)

// kqNode is one object of SOURCE as last seen: a name in its directory.
// Paths are computed from the links when needed, so a moved directory
// carries its contents (and their descriptors) along.
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

func (n *kqNode) isDir() bool { return n.e.isDir() }

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

func kqIdentOf(e entry) kqIdent { return kqIdent{e.ino, e.birth} }

// kqSame: a and b are the same object.
func kqSame(a, b entry) bool {
	return a.ino == b.ino && a.birth == b.birth && a.isDir() == b.isDir()
}

func kqWatchable(e entry) bool {
	t := e.mode & syscall.S_IFMT
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

	root     *kqNode
	watches  map[kqHandle]*kqWatch
	byIdent  map[kqIdent][]*kqNode
	regions  map[*kqNode]*kqRegion
	parked   map[*kqNode]*kqParked
	uncover  map[*kqNode]string // directories to hand over to polling, and why
	drains   uint64             // batches translated
	kqMark   uint64             // ledger mark of the last look that found the queue empty
	behind   bool               // the last look stopped at kqMaxBatch
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
		s: s, src: src, budget: budget, every: opts.pollInterval(), grace: kqGrace,
		watches: map[kqHandle]*kqWatch{}, byIdent: map[kqIdent][]*kqNode{},
		regions: map[*kqNode]*kqRegion{}, parked: map[*kqNode]*kqParked{},
		uncover: map[*kqNode]string{}, exited: make(chan struct{}),
	}
}

// start watches the whole tree. Each directory's descriptor is registered
// before the directory is listed, so a change made after start returns
// is noted, if not listed.
func (k *kqBackend) start() error {
	e, err := statEntry(k.s.source)
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
		for _, name := range sortedKeys(ents) {
			n := k.newNode(d, name, ents[name])
			d.kids[name] = n
			k.index(n)
			k.openWatch(n)
			if n.w == nil {
				continue
			}
			// A baseline, so that the first attribute change is typed.
			k.s.attrs.swap(n.e)
			if n.isDir() {
				queue = append(queue, n)
			}
		}
	}
}

func (k *kqBackend) newNode(dir *kqNode, name string, e entry) *kqNode {
	n := &kqNode{name: name, parent: dir, e: e}
	if e.isDir() {
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

// kqRaced: the name changed between the listing and the open (gone,
// turned into a symlink or another kind of object): not a failure.
func kqRaced(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ELOOP) ||
		errors.Is(err, syscall.ENOTDIR) || errors.Is(err, errKqUnwatchable)
}

func (k *kqBackend) uncovered(n *kqNode, why string) {
	dir := n
	if !n.isDir() {
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
	if n.isDir() {
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
	if n.isDir() {
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
}

// list reads the directory rel: each entry's attributes, by name. The
// directory must be the object d (checked before and after reading), so
// that a listing never speaks for another directory that took its path.
func (k *kqBackend) list(rel string, d entry) (map[string]entry, error) {
	abs := k.s.abs(rel)
	if err := k.isAt(abs, d); err != nil {
		return nil, err
	}
	f, err := os.Open(abs)
	if err != nil {
		return nil, fmt.Errorf("kqueue: list %s: %w", rel, err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("kqueue: list %s: %w", rel, err)
	}
	ents := make(map[string]entry, len(names))
	for _, name := range names {
		if e, err := statEntry(abs + "/" + name); err == nil {
			ents[name] = e
		}
	}
	if err := k.isAt(abs, d); err != nil {
		return nil, err
	}
	return ents, nil
}

var errKqMoved = errors.New("kqshim: another object has that path now")

func (k *kqBackend) isAt(abs string, want entry) error {
	e, err := statEntry(abs)
	if err != nil {
		return err
	}
	if !kqSame(e, want) {
		return errKqMoved
	}
	return nil
}

// handOver turns the directories that could not be covered by
// descriptors into polled regions, shallowest first (a region takes in
// everything below it).
func (k *kqBackend) handOver() {
	dirs := make([]*kqNode, 0, len(k.uncover))
	for d := range k.uncover {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return shallowerFirst(dirs[i].path(), dirs[j].path()) })
	for _, d := range dirs {
		why := k.uncover[d]
		delete(k.uncover, d)
		if d.region == nil && d.attached(k.root) {
			k.pollFrom(d, why)
		}
	}
}

// pollFrom hands the subtree of d over to polling: its descriptors are
// closed, it is scanned for a baseline, and subscribers are told to
// re-read it (what changed there until now may not have been reported).
func (k *kqBackend) pollFrom(d *kqNode, why string) {
	for _, kid := range d.kids {
		k.dropTree(kid)
	}
	d.kids = nil
	k.unwatch(d)
	rel := d.path()
	mark := k.s.ledger.mark()
	t, err := scan(k.s.abs(rel))
	if err != nil {
		t = tree{}
	}
	r := &kqRegion{last: t, mark: mark}
	d.region = r
	k.regions[d] = r
	k.polled.Add(1)
	k.s.rescan(rel, why+"; polled every "+k.every.String())
}

// pollRegions scans the polled directories, if it is time (or force),
// and reports what changed since their last scan.
func (k *kqBackend) pollRegions(force bool) {
	if len(k.regions) == 0 || (!force && time.Since(k.lastPoll) < k.every) {
		return
	}
	k.lastPoll = time.Now()
	dirs := make([]*kqNode, 0, len(k.regions))
	for d := range k.regions {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return shallowerFirst(dirs[i].path(), dirs[j].path()) })
	for _, d := range dirs {
		k.pollRegion(d)
	}
}

func (k *kqBackend) pollRegion(d *kqNode) {
	r := d.region
	rel := d.path()
	mark := k.s.ledger.mark()
	cur, err := statEntry(k.s.abs(rel))
	if err != nil || !kqSame(cur, d.e) {
		return // moved or gone: its directory's notes will say so
	}
	t, err := scan(k.s.abs(rel))
	if err != nil {
		return
	}
	if cur.mode != d.e.mode || cur.uid != d.e.uid || cur.gid != d.e.gid {
		k.s.attrChanged(rel) // the region's own directory has no descriptor either
	}
	d.e = cur
	echoes := &pollBackend{s: k.s}
	for _, ev := range diff(r.last, t) {
		ev.Path = kqJoin(rel, ev.Path)
		if ev.From != "" {
			ev.From = kqJoin(rel, ev.From)
		}
		if !echoes.isEcho(ev) {
			k.s.emit(ev)
		}
	}
	r.last, r.mark = t, mark
}

// retire spends the mount's announcements whose changes every part of
// the backend has looked past: the queue (drained since kqMark) and each
// polled region (scanned since its mark).
func (k *kqBackend) retire() {
	m := k.kqMark
	if m == 0 {
		return
	}
	for _, r := range k.regions {
		m = min(m, r.mark)
	}
	k.s.ledger.retire(m)
}

func (k *kqBackend) run() {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	k.running = true
	k.mu.Unlock()
	defer close(k.exited)
	defer func() { k.releaseErr = k.release() }()

	var flushes []chan struct{}
	for !k.stopping.Load() {
		flushes = k.s.takeFlushes(flushes)
		drained, err := k.cycle(k.wait(len(flushes) > 0))
		if k.stopping.Load() {
			return
		}
		if err != nil {
			k.s.rescan("", "kqueue: "+err.Error())
			return
		}
		k.pollRegions(len(flushes) > 0)
		k.retire()
		// A flush is answered once the queue was found empty after it
		// was asked for, and no object is still waiting for its notes.
		if drained && len(k.parked) == 0 {
			flushes = answer(flushes)
		}
	}
}

// wait is how long the next look at the queue may block.
func (k *kqBackend) wait(flush bool) time.Duration {
	if k.behind || (flush && len(k.parked) == 0) {
		return 0
	}
	d := time.Duration(-1)
	if len(k.regions) > 0 {
		d = max(0, k.every-time.Since(k.lastPoll))
	}
	if len(k.parked) > 0 {
		g := max(k.grace, time.Millisecond)
		if d < 0 || g < d {
			d = g
		}
	}
	return d
}

// cycle is one look at the queue: wait for notes, read until the queue is
// empty, translate. Notes are queued inside the system call that causes
// them, so once the queue has been found empty, every change finished
// before the mark has been read (see Ledger).
func (k *kqBackend) cycle(wait time.Duration) (drained bool, err error) {
	notes, err := k.src.read(wait)
	if err != nil {
		return false, err
	}
	mark := k.s.ledger.mark()
	for len(notes) < kqMaxBatch {
		more, err := k.src.read(0)
		if err != nil {
			return false, err
		}
		if len(more) == 0 {
			drained = true
			break
		}
		notes = append(notes, more...)
	}
	k.process(notes)
	k.behind = !drained
	if drained {
		k.kqMark = mark
	}
	return drained, nil
}

// process translates one batch of notes. Notes only say where to look:
// every name reported comes from comparing a directory's listing with
// the one before, so whichever note of a change comes first reports it,
// and the others find nothing left to report.
func (k *kqBackend) process(notes []kqNote) {
	touched := k.collect(notes)
	b := newKqBatch(k)
	for _, w := range touched {
		k.classify(b, w)
	}
	b.discover()
	b.decide()
	b.emit()
	for _, w := range touched {
		k.reportInPlace(w)
		w.flags = 0
	}
	k.handOver()
	k.drains++
}

// collect merges the notes of each descriptor. Handles are resolved now,
// before the batch closes any descriptor whose number the system may
// hand out again.
func (k *kqBackend) collect(notes []kqNote) []*kqWatch {
	var touched []*kqWatch
	for _, n := range notes {
		w := k.watches[n.h]
		if w == nil || n.flags == 0 {
			continue // a descriptor dropped already
		}
		if w.flags == 0 {
			touched = append(touched, w)
		}
		w.flags |= n.flags
	}
	return touched
}

// classify marks the directories whose listing the notes call into
// question: a directory whose entries changed, and the directory of an
// object that left its name.
func (k *kqBackend) classify(b *kqBatch, w *kqWatch) {
	for _, n := range w.names {
		if n.isDir() && w.flags&kqEntries != 0 {
			b.dirty[n] = true
		}
		if w.flags&kqGone == 0 {
			continue
		}
		if n == k.root {
			if !k.rootGone {
				k.rootGone = true
				k.s.rescan("", "SOURCE itself was removed, moved or revoked")
			}
			continue
		}
		if n.parent != nil {
			b.dirty[n.parent] = true
		}
	}
}

// reportInPlace reports the data and attribute notes of an object still
// in the tree, under its name now. The attributes are compared with those
// last seen, so that a note is reported as the change it is: a size
// change is a write or truncate, an attribute note that comes with a
// write is that write's (unless mode or owner changed too).
func (k *kqBackend) reportInPlace(w *kqWatch) {
	f := w.flags
	if w.closed || f&(kqAttrib|kqWrite|kqExtend) == 0 {
		return
	}
	var n *kqNode
	for _, m := range w.names {
		if m.attached(k.root) {
			n = m
			break
		}
	}
	if n == nil {
		return
	}
	rel := n.path()
	cur, err := statEntry(k.s.abs(rel))
	if err != nil || !kqSame(cur, n.e) {
		return // gone or replaced: the directory's notes say so
	}
	prev := n.e
	n.e = cur
	entries := n.isDir() && f&kqEntries != 0
	data := !n.isDir() && (f&(kqWrite|kqExtend) != 0 || cur.size != prev.size)
	owner := cur.mode != prev.mode || cur.uid != prev.uid || cur.gid != prev.gid
	if f&kqAttrib != 0 && (owner || (!data && !entries)) {
		k.s.attrChanged(rel)
	}
	if data {
		k.s.dataChanged(rel)
	}
}

func (k *kqBackend) close() error {
	k.mu.Lock()
	k.closed = true
	running := k.running
	k.mu.Unlock()
	k.stopping.Store(true)
	k.src.interrupt()
	if !running {
		return k.release()
	}
	<-k.exited
	return k.releaseErr
}

func (k *kqBackend) release() error {
	for h, w := range k.watches {
		w.closed = true
		k.src.forget(h)
	}
	clear(k.watches)
	if err := k.src.close(); err != nil {
		return fmt.Errorf("kqueue: close: %w", err)
	}
	return nil
}

func (k *kqBackend) poke() { k.src.interrupt() }

func (k *kqBackend) stats(into map[string]any) {
	dirs, files := k.dirs.Load(), k.files.Load()
	into["watches"] = dirs + files
	into["watched_dirs"] = dirs
	into["watched_files"] = files
	into["max_watches"] = k.budget
	into["polled_dirs"] = k.polled.Load()
	if k.polled.Load() > 0 {
		into["poll_interval"] = k.every.String()
	}
}

// kqBatch works out what one batch of notes means.
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
// or, with no path to go by, is parked until the rest of its notes had
// time to arrive.
//
// # Emission
//
// The changes are reported in an order that is a possible history: a
// name is vacated before it is taken, a directory's contents leave before
// it does, a directory appears before its contents. Each change is
// applied to the tree as it is reported, so every path is the one the
// object had at that point.
type kqBatch struct {
	k        *kqBackend
	dirty    map[*kqNode]bool
	listed   map[*kqNode]bool
	failed   map[*kqNode]string // the path at which a listing failed
	departed map[*kqNode]*kqDeparture
	order    []*kqDeparture
	arrivals []*kqArrival
	fresh    map[*kqNode]bool // nodes of new objects, not in the tree yet
	// open departures and arrivals, by identity, for pairing
	loose   map[kqIdent][]*kqDeparture
	unknown map[kqIdent][]*kqArrival
}

type kqDeparture struct {
	node     *kqNode
	to       *kqArrival
	parked   *kqParked // it had been parked: the node is out of the tree
	fate     kqFate
	located  bool
	abs      string
	nlink    uint32
	err      error
	expanded bool
	polled   bool // its new place is in a polled directory
}

type kqArrival struct {
	dir  *kqNode
	name string
	e    entry
	from *kqDeparture // it moved here
	node *kqNode      // a new object, or a new name of a known one
}

func (a *kqArrival) open() bool { return a.from == nil && a.node == nil }

type kqFate uint8

const (
	kqStays   kqFate = iota
	kqMoved          // paired with an arrival
	kqRemoved        // gone (or this name of it is)
	kqLeft           // moved out of SOURCE
	kqParks          // not known yet
)

func newKqBatch(k *kqBackend) *kqBatch {
	return &kqBatch{
		k: k, dirty: map[*kqNode]bool{}, listed: map[*kqNode]bool{}, failed: map[*kqNode]string{},
		departed: map[*kqNode]*kqDeparture{}, fresh: map[*kqNode]bool{},
		loose: map[kqIdent][]*kqDeparture{}, unknown: map[kqIdent][]*kqArrival{},
	}
}

// discover lists and chases until nothing is left to look at; each step
// is tried only when those before it have nothing to do.
func (b *kqBatch) discover() {
	for b.list() || b.chase() || b.locate() || b.expand() || b.resolve() {
	}
}

type kqDirAt struct {
	node *kqNode
	rel  string
}

// list lists the dirty directories whose path is known now.
func (b *kqBatch) list() bool {
	var dirs []kqDirAt
	for d := range b.dirty {
		if d.kids == nil || b.listed[d] {
			delete(b.dirty, d)
			continue
		}
		rel, ok := b.newPath(d)
		if failed, tried := b.failed[d]; ok && !(tried && failed == rel) {
			dirs = append(dirs, kqDirAt{d, rel})
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return shallowerFirst(dirs[i].rel, dirs[j].rel) })
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
func (b *kqBatch) newPath(n *kqNode) (string, bool) {
	var segs []string
	for i := 0; n != b.k.root; i++ {
		if i > kqMaxDepth {
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
	return kqJoinReversed(segs), true
}

// compare finds what left and what came into d since its last listing.
func (b *kqBatch) compare(d *kqNode, ents map[string]entry) {
	for _, name := range sortedKeys(d.kids) {
		kid := d.kids[name]
		if b.departed[kid] != nil {
			continue
		}
		if e, ok := ents[name]; ok && kqSame(e, kid.e) {
			continue
		}
		b.depart(kid)
	}
	for _, name := range sortedKeys(ents) {
		if kid := d.kids[name]; kid != nil && b.departed[kid] == nil {
			continue
		}
		b.arrive(d, name, ents[name])
	}
}

func (b *kqBatch) depart(n *kqNode) *kqDeparture {
	d := &kqDeparture{node: n}
	b.departed[n] = d
	b.order = append(b.order, d)
	id := kqIdentOf(n.e)
	for _, a := range b.unknown[id] {
		if b.matches(d, a) {
			b.pair(d, a)
			return d
		}
	}
	b.loose[id] = append(b.loose[id], d)
	return d
}

func (b *kqBatch) arrive(dir *kqNode, name string, e entry) {
	a := &kqArrival{dir: dir, name: name, e: e}
	b.arrivals = append(b.arrivals, a)
	id := kqIdentOf(e)
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
func (b *kqBatch) matches(d *kqDeparture, a *kqArrival) bool {
	if !kqSame(d.node.e, a.e) {
		return false
	}
	if a.e.birth == 0 && d.node.w != nil {
		b.where(d)
		return d.err == nil && d.nlink > 0
	}
	return true
}

func (b *kqBatch) pair(d *kqDeparture, a *kqArrival) {
	d.to, a.from = a, d
	id := kqIdentOf(a.e)
	b.loose[id] = kqWithout(b.loose[id], d)
	b.unknown[id] = kqWithout(b.unknown[id], a)
}

func kqWithout[T comparable](xs []T, x T) []T {
	for i, y := range xs {
		if y == x {
			return append(xs[:i], xs[i+1:]...)
		}
	}
	return xs
}

// where asks the descriptor of d's object where it is (once).
func (b *kqBatch) where(d *kqDeparture) {
	if d.located {
		return
	}
	d.located = true
	if d.node.w == nil {
		d.err = errKqUnwatchable
		return
	}
	d.abs, d.nlink, d.err = b.k.src.where(d.node.w.h)
}

// chase follows arrivals of known objects back to where they were.
func (b *kqBatch) chase() bool {
	progress := false
	for _, a := range b.arrivals {
		if !a.open() {
			continue
		}
		for _, n := range b.k.byIdent[kqIdentOf(a.e)] {
			if b.departed[n] != nil || n == b.k.root || !kqSame(n.e, a.e) {
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
func (b *kqBatch) lostAbove(n *kqNode) bool {
	for i, p := 0, n.parent; p != nil && i < kqMaxDepth; i, p = i+1, p.parent {
		if d := b.departed[p]; d != nil && d.to == nil {
			return true
		}
	}
	return false
}

// locate asks where each departed object is, and lists the directory
// that holds it now.
func (b *kqBatch) locate() bool {
	progress := false
	for _, d := range b.order {
		if d.to != nil || d.located || d.node.w == nil {
			continue
		}
		b.where(d)
		if d.err != nil || d.nlink == 0 || d.abs == "" || !b.k.locate {
			continue
		}
		if rel, ok := b.k.s.rel(d.abs); ok && b.listHolder(rel, d) {
			progress = true
		}
	}
	return progress
}

// listHolder marks the nearest known directory above rel dirty. A new
// directory on the way is listed anyway, once it is adopted.
func (b *kqBatch) listHolder(rel string, d *kqDeparture) bool {
	for p := kqParent(rel); ; p = kqParent(p) {
		if e, err := statEntry(b.k.s.abs(p)); err == nil {
			for _, n := range b.k.byIdent[kqIdentOf(e)] {
				if !kqSame(n.e, e) {
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
func (b *kqBatch) expand() bool {
	progress := false
	for i := 0; i < len(b.order); i++ {
		d := b.order[i]
		n := d.node
		if d.to != nil || d.expanded || n.kids == nil || d.parked != nil {
			continue
		}
		b.where(d)
		if d.err == nil && d.nlink > 0 {
			continue // moved: its contents went with it
		}
		d.expanded = true
		for _, name := range sortedKeys(n.kids) {
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
func (b *kqBatch) resolve() bool {
	progress := false
	for _, a := range b.arrivals {
		if !a.open() {
			continue
		}
		progress = true
		b.unknown[kqIdentOf(a.e)] = kqWithout(b.unknown[kqIdentOf(a.e)], a)
		if m := b.otherLink(a); m != nil {
			a.node = &kqNode{name: a.name, parent: a.dir, e: a.e, w: m.w}
			b.fresh[a.node] = true
			continue
		}
		n := b.k.newNode(a.dir, a.name, a.e)
		a.node = n
		b.fresh[n] = true
		b.k.openWatch(n)
		if n.w != nil && n.isDir() {
			b.dirty[n] = true
		}
	}
	return progress
}

// otherLink finds a name of a's object that stays where it was.
func (b *kqBatch) otherLink(a *kqArrival) *kqNode {
	if a.e.isDir() {
		return nil
	}
	for _, n := range b.k.byIdent[kqIdentOf(a.e)] {
		if b.departed[n] == nil && b.k.parked[n] == nil && kqSame(n.e, a.e) && n.attached(b.k.root) {
			return n
		}
	}
	return nil
}

// decide settles the fate of each departure not paired with an arrival.
func (b *kqBatch) decide() {
	for _, d := range b.order {
		if d.to != nil {
			d.fate = kqMoved
			continue
		}
		d.fate = b.fateOf(d)
	}
}

func (b *kqBatch) fateOf(d *kqDeparture) kqFate {
	n := d.node
	if n.w == nil {
		return kqRemoved // no descriptor to ask: gone, as far as can be told
	}
	b.where(d)
	switch {
	case d.err != nil || d.nlink == 0:
		return kqRemoved
	case b.otherName(n):
		return kqRemoved // this name went; the object keeps another
	case n.w.flags&(kqDelete|kqRevoke) != 0:
		return kqRemoved // unlinked here, linked outside SOURCE
	case d.polled:
		return kqLeft // moved into a polled directory: its scans report the arrival
	case b.k.locate && d.abs != "":
		if _, inside := b.k.s.rel(d.abs); !inside {
			return kqLeft
		}
	}
	if p := d.parked; p != nil && b.k.drains > p.drain && time.Since(p.since) >= b.k.grace {
		return kqLeft
	}
	return kqParks
}

func (b *kqBatch) otherName(n *kqNode) bool {
	for _, m := range n.w.names {
		if m != n && b.departed[m] == nil && m.attached(b.k.root) {
			return true
		}
	}
	return false
}

type kqStepKind uint8

const (
	kqStepRemove kqStepKind = iota // report the name gone, drop the object
	kqStepPark                     // take the object out of the tree, unreported for now
	kqStepRename
	kqStepCreate
)

type kqStep struct {
	kind  kqStepKind
	node  *kqNode
	dir   *kqNode // rename, create: where it goes
	name  string
	moved bool   // remove: it left SOURCE
	from  string // the path it had, if it is out of the tree already
	done  bool
}

type kqSlot struct {
	dir  *kqNode
	name string
}

// emit reports the batch's changes in an order that is a possible
// history and applies them to the tree (see kqBatch).
func (b *kqBatch) emit() {
	b.expireParked()
	steps, replaced := b.plan()
	pending := map[*kqNode]*kqStep{}
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
func (b *kqBatch) expireParked() {
	for n, p := range b.k.parked {
		if b.departed[n] != nil || b.k.drains <= p.drain || time.Since(p.since) < b.k.grace {
			continue
		}
		b.k.dropTree(n)
		b.k.s.removed(p.from, n.isDir(), true)
	}
}

// plan lists the steps: removals (deepest first), renames, creations (in
// the order found, so directories before their contents). An object that
// went from a name another object is renamed to was replaced: the rename
// says it all.
func (b *kqBatch) plan() ([]*kqStep, map[*kqNode]bool) {
	dest := map[kqSlot]bool{}
	for _, d := range b.order {
		if d.to != nil {
			dest[kqSlot{d.to.dir, d.to.name}] = true
		}
	}
	replaced := map[*kqNode]bool{}
	var removes, renames, creates []*kqStep
	for _, d := range b.order {
		n := d.node
		switch {
		case d.fate == kqMoved:
			renames = append(renames, &kqStep{kind: kqStepRename, node: n, dir: d.to.dir, name: d.to.name, from: b.parkedFrom(d)})
		case d.parked != nil:
			// Still out of the tree, still waiting.
		case dest[kqSlot{n.parent, n.name}]:
			replaced[n] = true
		case d.fate == kqParks:
			removes = append(removes, &kqStep{kind: kqStepPark, node: n})
		default:
			removes = append(removes, &kqStep{kind: kqStepRemove, node: n, moved: d.fate == kqLeft})
		}
	}
	paths := map[*kqNode]string{}
	for _, st := range removes {
		paths[st.node] = st.node.path()
	}
	sort.SliceStable(removes, func(i, j int) bool { return deeperFirst(paths[removes[i].node], paths[removes[j].node]) })
	for _, a := range b.arrivals {
		if a.node != nil {
			creates = append(creates, &kqStep{kind: kqStepCreate, node: a.node, dir: a.dir, name: a.name})
		}
	}
	return append(append(removes, renames...), creates...), replaced
}

func (b *kqBatch) parkedFrom(d *kqDeparture) string {
	if d.parked != nil {
		return d.parked.from
	}
	return ""
}

// pass applies every step that is ready, in order; it returns how many.
func (b *kqBatch) pass(steps []*kqStep, pending map[*kqNode]*kqStep, replaced map[*kqNode]bool) int {
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

func (b *kqBatch) ready(st *kqStep, pending map[*kqNode]*kqStep, replaced map[*kqNode]bool) bool {
	root := b.k.root
	switch st.kind {
	case kqStepRemove, kqStepPark:
		return st.node.attached(root) && !busy(st.node, pending)
	case kqStepRename:
		if st.from == "" && !st.node.attached(root) {
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
func busy(n *kqNode, pending map[*kqNode]*kqStep) bool {
	for _, kid := range n.kids {
		if pending[kid] != nil {
			return true
		}
	}
	return false
}

func (b *kqBatch) apply(st *kqStep) {
	k, n := b.k, st.node
	switch st.kind {
	case kqStepRemove:
		rel := n.path()
		k.detach(n)
		k.dropTree(n)
		k.s.removed(rel, n.isDir(), st.moved)
	case kqStepPark:
		k.parked[n] = &kqParked{from: n.path(), since: time.Now(), drain: k.drains}
		k.detach(n)
	case kqStepRename:
		from := st.from
		if from == "" {
			from = n.path()
		}
		if occ := st.dir.kids[st.name]; occ != nil && occ != n {
			k.detach(occ)
			k.dropTree(occ)
		}
		k.detach(n)
		delete(k.parked, n)
		n.parent, n.name = st.dir, st.name
		st.dir.kids[st.name] = n
		k.s.renamed(from, n.path())
	case kqStepCreate:
		n.parent, n.name = st.dir, st.name
		st.dir.kids[st.name] = n
		k.index(n)
		if w := n.w; w != nil && !w.closed && !kqHas(w.names, n) {
			w.names = append(w.names, n) // a new hard link
		}
		// Reported even if gone again (its removal follows, by the
		// directory's next listing).
		k.s.created(n.path(), n.isDir(), false)
	}
}

func kqHas(ns []*kqNode, n *kqNode) bool {
	for _, m := range ns {
		if m == n {
			return true
		}
	}
	return false
}

// displace breaks a cycle of renames (a swap): the object holding the
// name the first waiting rename wants is taken out of the tree, its own
// rename then reported from the path it had.
func (b *kqBatch) displace(steps []*kqStep, pending map[*kqNode]*kqStep) bool {
	for _, st := range steps {
		if st.done || st.kind != kqStepRename || pending[st.dir] != nil || !st.dir.attached(b.k.root) {
			continue
		}
		occ := st.dir.kids[st.name]
		if occ == nil {
			continue
		}
		if o := pending[occ]; o != nil && o.kind == kqStepRename && o.from == "" {
			o.from = occ.path()
			b.k.detach(occ)
			return true
		}
	}
	return false
}

// abandon gives up on steps that cannot be ordered (which a consistent
// tree never leaves): their objects are dropped and subscribers told to
// re-read the tree.
func (b *kqBatch) abandon(steps []*kqStep) {
	for _, st := range steps {
		if st.done {
			continue
		}
		b.k.detach(st.node)
		b.k.dropTree(st.node)
	}
	b.k.s.rescan("", "kqueue: changes of one batch could not be put in order")
}

func kqParent(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

func kqJoin(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// kqJoinReversed joins path segments listed from the leaf up.
func kqJoinReversed(segs []string) string {
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return strings.Join(segs, "/")
}
