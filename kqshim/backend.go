package kqshim

import (
	"fmt"
	"os"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// backend is one way of seeing changes on SOURCE. Each lives in its own
// file (backend_fanotify.go, backend_inotify.go, backend_kqueue.go,
// backend_poll.go) and talks to the rest only through the sink.
type backend interface {
	// run reads the kernel's notes (or scans) and hands the changes to
	// the sink until close is called.
	run()
	// close stops run and releases what the backend holds; run returns
	// soon after.
	close() error
	// stats adds the backend's own figures to status.
	stats() any // one of the *Stats types of stats.go
	// poke makes run look at its queue (or scan) now, to answer flushes.
	poke()
}

// opener starts a backend; an error means it cannot work here (auto then
// tries the next one).
type opener func(s *sink, opts Options) (backend, error)

type namedOpener struct {
	name string
	open opener
}

// sink is where backends deliver: it knows SOURCE, the echo ledger, and
// what to do with a change (invalidate the mount's caches, publish).
type sink struct {
	source string
	rootfd int // SOURCE, for stats resolved beneath it (-1: could not open)
	ledger *Ledger
	cfg    Config
	attrs  attrCache
	// written is the size and mtime each file had when its last write
	// was reported: a further data note that shows no change since is
	// the same write noted twice (O_TRUNC then write, or a note split
	// across reads), not another one.
	written map[uint64][2]int64
	// consult is the classes of notes the ledger is asked about. A
	// backend that knows the daemon's own changes by pid (fanotify) asks
	// only about what the kernel does on the mount's behalf with another
	// pid: passthrough writes and the close of its backing file.
	consult noteClass
	// listed remembers what a listing of a new directory reported, until
	// the backend has drained past the listing: a note of the same
	// creation may still be queued (see noteCreated).
	listed map[string]listedEntry
	// actor is the pid of the process making the change being translated,
	// where the backend knows it (fanotify); 0 otherwise. Only the
	// backend's goroutine sets it.
	actor int32

	flushMu sync.Mutex
	flushes []chan struct{}

	published atomic.Uint64
	echoes    atomic.Uint64
	rescans   atomic.Uint64
}

func newSink(source string, cfg Config) *sink {
	s := &sink{
		source: source, ledger: newLedger(), cfg: cfg, consult: ^noteClass(0),
		attrs: attrCache{m: map[uint64]entry{}}, written: map[uint64][2]int64{}, listed: map[string]listedEntry{},
	}
	s.rootfd, _ = unix.Open(source, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	return s
}

// close releases SOURCE's descriptor once no backend uses the sink.
func (s *sink) close() {
	if s.rootfd >= 0 {
		unix.Close(s.rootfd)
		s.rootfd = -1
	}
}

// abs is the SOURCE path of rel.
func (s *sink) abs(rel string) string {
	if rel == "" {
		return s.source
	}
	return s.source + "/" + rel
}

// rel turns an absolute path into one relative to SOURCE; false if it is
// not beneath SOURCE.
func (s *sink) rel(abs string) (string, bool) {
	if abs == s.source {
		return "", true
	}
	if r, ok := strings.CutPrefix(abs, s.source); ok && strings.HasPrefix(r, "/") {
		return r[1:], true
	}
	if s.source == "/" && strings.HasPrefix(abs, "/") {
		return abs[1:], true
	}
	return "", false
}

// stat stats rel (not following a final symlink) and remembers its
// attributes; the previous ones come back too, if they were known.
func (s *sink) stat(rel string) (cur, prev entry, known, ok bool) {
	cur, err := s.statRel(rel)
	if err != nil {
		return entry{}, entry{}, false, false
	}
	prev, known = s.attrs.swap(cur)
	s.attrs.named(rel, cur.ino)
	return cur, prev, known, true
}

// statRel stats rel (not following a final symlink) through its
// directory opened beneath SOURCE's descriptor, so that a symlink swapped
// into the path cannot make an event describe an object outside.
func (s *sink) statRel(rel string) (entry, error) {
	if rel == "" || s.rootfd < 0 {
		return statEntry(s.abs(rel))
	}
	dir, name := path.Split(rel)
	dfd, err := openBeneath(s.rootfd, strings.TrimSuffix(dir, "/"), unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return entry{}, err
	}
	defer unix.Close(dfd)
	return statEntryAt(dfd, name)
}

// echo reports (and counts) a note that is the mount's own change; ino
// is the object's inode number if known (0 if not).
func (s *sink) echo(c noteClass, rel string, ino uint64) bool {
	return s.echoOf(c, rel, entry{ino: ino})
}

// echoOf is echo for an object just stat'ed (its birth time helps).
func (s *sink) echoOf(c noteClass, rel string, e entry) bool {
	if c&s.consult != 0 && s.ledger.isEcho(c&s.consult, rel, e.ino, e.birth) {
		s.echoes.Add(1)
		return true
	}
	return false
}

// emit delivers one change made underneath the mount: the mount's kernel
// caches are invalidated first, so that a subscriber who reads through
// the mount on receiving the event sees the new state.
func (s *sink) emit(ev *eventbus.Event) {
	ev.Origin = eventbus.OriginBacking
	if s.actor > 0 && ev.Type != eventbus.Rescan {
		whoDid(ev, s.actor)
	}
	if s.cfg.Invalidate != nil {
		s.cfg.Invalidate(ev)
	}
	s.cfg.Publish(ev)
	s.published.Add(1)
}

// addFlush asks the backend to answer (close the channel) once it has
// translated every change made before the call.
func (s *sink) addFlush() chan struct{} {
	ch := make(chan struct{})
	s.flushMu.Lock()
	s.flushes = append(s.flushes, ch)
	s.flushMu.Unlock()
	return ch
}

// takeFlushes hands the backend the flushes asked for so far: it answers
// them once a look at its queue that began after this call is complete.
func (s *sink) takeFlushes(into []chan struct{}) []chan struct{} {
	s.flushMu.Lock()
	into = append(into, s.flushes...)
	s.flushes = s.flushes[:0]
	s.flushMu.Unlock()
	return into
}

// gatherWindow is how long a kernel backend lets notes gather after its
// queue becomes readable, unless a flush waits. Every operation through
// the mount queues notes too (its echoes); read one wake-up each, they
// cost the daemon a wake-up per operation. A millisecond batches a busy
// mount's notes at a latency well inside the 20 ms the bridge aims for.
const gatherWindow = time.Millisecond

// gather waits gatherWindow before a read, unless a flush is waiting.
func (s *sink) gather() {
	if !s.flushWaiting() {
		time.Sleep(gatherWindow)
	}
}

// flushWaiting reports a flush not yet taken. A backend checks it before
// it blocks: the flush's wake-up may have ended a shorter wait already,
// and then nothing else would wake it.
func (s *sink) flushWaiting() bool {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return len(s.flushes) > 0
}

// answer closes the flushes a complete look has covered.
func answer(flushes []chan struct{}) []chan struct{} {
	for _, ch := range flushes {
		close(ch)
	}
	return flushes[:0]
}

// rescan says that changes beneath rel were lost: the mount forgets what
// it cached there and subscribers are told to re-read the subtree.
func (s *sink) rescan(rel, why string) {
	if s.cfg.Logf != nil {
		s.cfg.Logf("underneath: rescan of %q: %s", rel, why)
	}
	ev := &eventbus.Event{Type: eventbus.Rescan, Path: rel, IsDir: true}
	s.rescans.Add(1)
	s.emit(ev)
}

// created reports a name that appeared at rel (if it is not the mount's
// own), typed by what it is. It returns the entry, if rel still exists;
// a name already gone again is still reported (its removal follows), as
// what the note said it was.
func (s *sink) created(rel string, isDir, moved bool) (entry, bool) {
	c := noteCreated
	if moved {
		c = noteMovedTo
	}
	e, _, known, ok := s.stat(rel)
	if s.echo(c, rel, 0) {
		return e, ok
	}
	if !ok {
		t := eventbus.Create
		if isDir {
			t = eventbus.Mkdir
		}
		s.emit(&eventbus.Event{Type: t, Path: rel, IsDir: isDir})
		return entry{}, false
	}
	t := createType(e)
	if t == eventbus.Create && e.nlink > 1 && known && !moved {
		// A new name of a file already seen under another. (A file made
		// and linked before its creation was read has two links but was
		// never seen: its first name is a create.)
		t = eventbus.Link
	}
	ev := event(t, rel, "", e)
	if t == eventbus.Symlink {
		ev.Target, _ = os.Readlink(s.abs(rel))
	}
	s.emit(ev)
	return e, true
}

// createdTree reports a directory that appeared with contents (moved in
// from outside SOURCE): the directory, then everything in it, shallowest
// first.
func (s *sink) createdTree(rel string, moved bool) {
	e, ok := s.created(rel, true, moved)
	if !ok || !e.isDir() {
		return
	}
	t, err := scan(s.abs(rel))
	if err != nil {
		return
	}
	for _, p := range sortedByDepth(t) {
		s.listedCreated(path.Join(rel, p), t[p].isDir())
	}
}

// listedCreated reports a name a listing found in a directory that just
// appeared, and remembers it until the backend has drained past the
// listing: a note of the same creation may still be queued (noteCreated
// then drops it).
func (s *sink) listedCreated(rel string, isDir bool) {
	if e, ok := s.created(rel, isDir, false); ok {
		s.listed[rel] = listedEntry{ino: e.ino, epoch: s.ledger.epoch.Load()}
	}
}

// listedEntry is an object a listing reported, and when.
type listedEntry struct {
	ino   uint64
	epoch uint64
}

// noteCreated handles the note of a creation: reported, unless a listing
// of a new directory already reported that very object.
func (s *sink) noteCreated(rel string, isDir, moved bool) (entry, bool) {
	if l, ok := s.listed[rel]; ok {
		delete(s.listed, rel)
		if e, err := s.statRel(rel); err == nil && e.ino == l.ino {
			return e, true
		}
	}
	return s.created(rel, isDir, moved)
}

// forgetListed drops the listing records the queue has been drained past.
func (s *sink) forgetListed(mark uint64) {
	for rel, l := range s.listed {
		if l.epoch < mark {
			delete(s.listed, rel)
		}
	}
}

// removed reports a name that went.
func (s *sink) removed(rel string, isDir, moved bool) {
	c := noteRemoved
	if moved {
		c = noteMovedFrom
	}
	if s.echo(c, rel, 0) {
		return
	}
	t := eventbus.Remove
	if isDir {
		t = eventbus.Rmdir
	}
	// The object is gone; the inode it had, if it was seen, still tells
	// the mount which other names (hard links) changed their link count.
	// Without attributes it is not part of the event's encoding.
	s.emit(&eventbus.Event{Type: t, Path: rel, IsDir: isDir, Ino: s.attrs.unnamed(rel)})
}

// renamed reports from → to, both beneath SOURCE; replaced: the backend
// knows another object had the name to (false when it cannot tell).
func (s *sink) renamed(from, to string, replaced bool) {
	e, _, _, ok := s.stat(to)
	if s.echo(noteMovedFrom, from, 0) || s.echo(noteMovedTo, to, 0) {
		return
	}
	ev := &eventbus.Event{Type: eventbus.Rename, Path: to, From: from}
	if ok {
		ev = event(eventbus.Rename, to, from, e)
	}
	ev.Replaced = replaced
	s.emit(ev)
}

// describe stats the object a note of class c is about. ok: it is not
// the mount's own change, and is to be reported with these attributes.
// An object already gone is reported here and now, as type gone without
// attributes (the change happened; only its description is lost).
func (s *sink) describe(c noteClass, rel string, gone eventbus.Type) (e, prev entry, known, ok bool) {
	e, prev, known, ok = s.stat(rel)
	if !ok {
		if !s.echo(c, rel, 0) {
			s.emit(&eventbus.Event{Type: gone, Path: rel})
		}
		return e, prev, known, false
	}
	return e, prev, known, !s.echoOf(c, rel, e)
}

// inferredEcho matches a change inferred from two scans (poll, and the
// regions kqueue polls) against the mount's announcements.
// A scan cannot tell a rename made by the mount from one with the same
// names made underneath; nor can it tell which of two changes to one
// object in one interval came first, so it matches generously.
func (s *sink) inferredEcho(ev *eventbus.Event) bool {
	switch ev.Type {
	case eventbus.Rename:
		return s.echo(noteMovedFrom, ev.From, 0) || s.echo(noteMovedTo, ev.Path, 0)
	case eventbus.Create, eventbus.Mkdir, eventbus.Mknod, eventbus.Symlink, eventbus.Link:
		return s.echo(noteCreated|noteMovedTo, ev.Path, 0)
	case eventbus.Remove, eventbus.Rmdir:
		return s.echo(noteRemoved|noteMovedFrom, ev.Path, 0)
	case eventbus.Write, eventbus.Truncate:
		return s.echo(noteData, ev.Path, ev.Ino)
	default:
		return s.echo(noteAttr, ev.Path, ev.Ino)
	}
}

// dataChanged reports a write (or a truncate, if the file got smaller
// than it was last seen). A file already gone again is still reported:
// the write happened.
func (s *sink) dataChanged(rel string) {
	e, prev, known, ok := s.describe(noteData, rel, eventbus.Write)
	if !ok {
		return
	}
	seen := [2]int64{e.size, e.mtime}
	if w, ok := s.written[e.ino]; ok && w == seen {
		return
	}
	if len(s.written) >= maxAttrs {
		clear(s.written)
	}
	s.written[e.ino] = seen
	t := eventbus.Write
	if known && e.size < prev.size {
		t = eventbus.Truncate
	}
	s.emit(event(t, rel, "", e))
}

// attrChanged reports a metadata change, as precisely as the last known
// attributes allow (attrTypes).
func (s *sink) attrChanged(rel string) {
	e, prev, known, ok := s.describe(noteAttr, rel, eventbus.Chmod)
	if !ok {
		return
	}
	for _, t := range attrTypes(prev, e, known) {
		s.emit(event(t, rel, "", e))
	}
}

// attrTypes tells what an attribute note was by comparing the object with
// the last attributes seen of it: a changed mode is chmod, owner chown;
// a new mtime set apart from the change time is utimes (a write sets the
// two together); a change time that alone moved is setxattr. The
// baseline can be stale — stat'ed after this very change, when the
// watcher lags behind a burst — and then nothing is seen to differ:
// such a note, and one with no baseline, is reported as chmod, the
// conventional name for "attributes changed".
func attrTypes(prev, cur entry, known bool) []eventbus.Type {
	if !known {
		return []eventbus.Type{eventbus.Chmod}
	}
	var ts []eventbus.Type
	if cur.mode != prev.mode {
		ts = append(ts, eventbus.Chmod)
	}
	if cur.uid != prev.uid || cur.gid != prev.gid {
		ts = append(ts, eventbus.Chown)
	}
	switch {
	case len(ts) > 0:
	case cur.mtime != prev.mtime && cur.mtime != cur.ctime:
		ts = append(ts, eventbus.Utimes)
	case cur.ctime != prev.ctime && cur.mtime == prev.mtime && cur.size == prev.size && cur.nlink == prev.nlink:
		ts = append(ts, eventbus.Setxattr)
	default:
		ts = append(ts, eventbus.Chmod)
	}
	return ts
}

// closedWrite reports the last close of a descriptor open for writing.
func (s *sink) closedWrite(rel string) {
	e, _, _, ok := s.describe(noteClosed, rel, eventbus.CloseWrite)
	if !ok {
		return
	}
	s.emit(event(eventbus.CloseWrite, rel, "", e))
}

// attrCache remembers the last attributes seen of each inode, so that an
// attribute note can be typed. It is bounded: past maxAttrs it starts
// over (attribute changes of objects it forgot are reported as chmod).
type attrCache struct {
	mu    sync.Mutex
	m     map[uint64]entry
	names map[string]uint64 // the inode last seen at each path
}

// named records that rel was last seen to be inode ino.
func (c *attrCache) named(rel string, ino uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names == nil || len(c.names) >= maxAttrs {
		c.names = map[string]uint64{}
	}
	c.names[rel] = ino
}

// unnamed forgets rel and returns the inode last seen there (0: none).
func (c *attrCache) unnamed(rel string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	ino := c.names[rel]
	delete(c.names, rel)
	return ino
}

const maxAttrs = 1 << 20

func (c *attrCache) swap(e entry) (entry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	prev, ok := c.m[e.ino]
	if ok && !sameObject(prev, e) {
		ok = false
	}
	if len(c.m) >= maxAttrs {
		c.m = map[uint64]entry{}
	}
	c.m[e.ino] = e
	return prev, ok
}

func (c *attrCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// waker lets close (and flushes) interrupt a backend blocked in poll(2)
// or kevent(2): the read end becomes readable.
type waker struct {
	r, w     int
	stopping atomic.Bool
}

func newWaker() (*waker, error) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return nil, fmt.Errorf("kqshim: pipe: %w", err)
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	unix.SetNonblock(p[1], true)
	return &waker{r: p[0], w: p[1]}, nil
}

// wake interrupts a wait; the waiter looks at its queue again.
func (w *waker) wake() { unix.Write(w.w, []byte{0}) }

// stop interrupts a wait for good.
func (w *waker) stop() {
	w.stopping.Store(true)
	w.wake()
}

func (w *waker) close() {
	unix.Close(w.r)
	unix.Close(w.w)
}

// wait blocks until fd is readable, the waker fired, or timeoutMs passed
// (< 0: no limit). stop: the backend must return.
func (w *waker) wait(fd int, timeoutMs int) (readable, stop bool) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(w.r), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, timeoutMs)
		if err == unix.EINTR {
			continue
		}
		if fds[1].Revents != 0 {
			var b [64]byte
			unix.Read(w.r, b[:])
		}
		return fds[0].Revents != 0, w.stopping.Load()
	}
}

// sortedByDepth lists a scan's paths shallowest first.
func sortedByDepth(t tree) []string {
	keys := sortedKeys(t)
	sortShallowFirst(keys)
	return keys
}
