package kqshim

// The sink: where every backend delivers. It knows SOURCE, the echo
// ledger, and what to do with a change (invalidate the mount's caches,
// then publish).

import (
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/beneath"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/internal/relpath"
)

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

	// hold delays changes on a clustered mount (Config.Hold); nil
	// without one.
	hold *holder

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
	if cfg.Hold > 0 {
		s.hold = newHolder(cfg.Hold, cfg.HoldGate, s.deliver, s.heldEcho)
		s.ledger.heldSince = s.hold.oldest
	}
	return s
}

// close releases SOURCE's descriptor once no backend uses the sink.
func (s *sink) close() {
	if s.hold != nil {
		s.hold.close()
	}
	if s.rootfd >= 0 {
		unix.Close(s.rootfd)
		s.rootfd = -1
	}
}

// rel turns an absolute path into one relative to SOURCE; false if it is
// not beneath SOURCE.
func (s *sink) rel(abs string) (string, bool) {
	return relpath.Rel(s.source, abs)
}

// stat stats rel (not following a final symlink) and remembers its
// attributes; the previous ones come back too, if they were known.
func (s *sink) stat(rel string) (cur, prev entry, known, ok bool) {
	cur, err := s.statRel(rel)
	if err != nil {
		return entry{}, entry{}, false, false
	}
	prev, known = s.attrs.swap(cur)
	s.attrs.named(rel, cur.Ino)
	return cur, prev, known, true
}

// statRel stats rel (not following a final symlink) through its
// directory opened beneath SOURCE's descriptor, so that a symlink swapped
// into the path cannot make an event describe an object outside.
func (s *sink) statRel(rel string) (entry, error) { return statBeneath(s.rootfd, rel) }

// statBeneath stats rel beneath the descriptor root that way.
func statBeneath(root int, rel string) (entry, error) {
	if rel == "" {
		return fsobj.StatAt(root, "")
	}
	dir, name := beneath.Split(rel)
	dfd, err := beneath.OpenDir(root, dir)
	if err != nil {
		return entry{}, err
	}
	defer unix.Close(dfd)
	return fsobj.StatAt(dfd, name)
}

// readlinkRel reads the symlink rel through its directory opened beneath
// SOURCE's descriptor.
func (s *sink) readlinkRel(rel string) (string, error) {
	dir, name := beneath.Split(rel)
	dfd, err := beneath.OpenDir(s.rootfd, dir)
	if err != nil {
		return "", err
	}
	defer unix.Close(dfd)
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// echo reports (and counts) a note that is the mount's own change; ino
// is the object's inode number if known (0 if not).
func (s *sink) echo(c noteClass, rel string, ino uint64) bool {
	return s.echoOf(c, rel, entry{Ino: ino})
}

// echoOf is echo for an object just stat'ed (its birth time helps).
func (s *sink) echoOf(c noteClass, rel string, e entry) bool {
	if c&s.consult != 0 && s.ledger.isEcho(c&s.consult, rel, e.Ino, e.Birth) || s.ledger.remote.covers(c, rel) {
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
	if s.hold != nil {
		s.hold.add(ev)
		return
	}
	s.deliver(ev)
}

// deliver invalidates the caches and publishes.
func (s *sink) deliver(ev *eventbus.Event) {
	if s.cfg.Invalidate != nil {
		s.cfg.Invalidate(ev)
	}
	s.cfg.Publish(ev)
	s.published.Add(1)
}

// heldEcho reports (and counts) a held change that another host's event
// announced meanwhile; a rescan is never one.
func (s *sink) heldEcho(ev *eventbus.Event) bool {
	if ev.Type != eventbus.Rescan && s.ledger.remote.coversEvent(ev) {
		s.echoes.Add(1)
		return true
	}
	return false
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
