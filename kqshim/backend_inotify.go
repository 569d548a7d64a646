//go:build linux

package kqshim

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/relpath"
)

// inotifyBackend watches every directory of SOURCE with inotify
// (unprivileged, any local filesystem).
//
// # Recursion
//
// A watch covers one directory's entries, so every directory gets one: at
// start, and as directories appear (created or moved in). Between a
// mkdir and its add_watch, entries can be made in the new directory that
// no watch saw; the new directory is therefore listed right after its
// watch is added and what is in it is reported. An entry made after the
// watch was added is then both listed and notified: the listing remembers
// what it reported until the queue has been drained past it, and the
// notification of the same inode is dropped.
//
// # Renames
//
// IN_MOVED_FROM and IN_MOVED_TO with one cookie become one rename. The
// kernel queues the two in one rename(2), but a read can fall between
// them, so a lone MOVED_FROM waits (a few milliseconds at most, once the
// queue is empty) for its partner; without one the object left SOURCE.
// A moved directory keeps its watches: the tree of watched directories
// is re-linked, and every path is computed from it when needed.
//
// # Losses
//
// IN_Q_OVERFLOW (the queue holds max_queued_events) loses events: the
// watches are rebuilt from scratch on a new inotify instance and a
// rescan of the whole tree is published. A directory that cannot be
// watched (max_user_watches, or MaxWatches) is reported with a rescan of
// that directory.
type inotifyBackend struct {
	s           *sink
	kernelQueue // root: O_PATH descriptor of SOURCE; watches are resolved beneath it
	max         int

	byWd  map[int32]*watchedDir
	top   *watchedDir
	moves map[uint32]movedFrom
	// movesUntil ends the wait for the MOVED_TO of a lone MOVED_FROM.
	movesUntil time.Time
	// displaced are directories whose name a rename took, kept until
	// the queue is drained: the second half of a RENAME_EXCHANGE moves
	// them on; otherwise they were replaced (and their watch goes).
	displaced map[dirName2]*watchedDir
	// adopted are the old names of directories found moved by a listing
	// before their MOVED_FROM was read: that note, and its MOVED_TO, are
	// already reported.
	adopted  map[dirName2]bool
	ignoring map[uint32]bool // cookies of such moves

	// polled are the directories that could not be watched (the watch
	// limit), by path, with their last scan: they are scanned and diffed
	// every pollEvery instead. regionMark is the ledger mark taken before
	// the last of those scans: announcements are retired no further.
	polled     map[string]tree
	pollEvery  time.Duration
	lastPoll   time.Time
	regionMark uint64

	watches   atomic.Int64
	unwatched atomic.Int64
	overflows atomic.Int64

	buf []byte
}

// watchedDir is one directory with a watch, linked to its parent so that
// its path is always the current one, even after an ancestor moved.
type watchedDir struct {
	wd       int32
	name     string
	parent   *watchedDir
	children map[string]*watchedDir
}

func (d *watchedDir) rel() string {
	if d.parent == nil {
		return ""
	}
	var segs []string
	for p := d; p.parent != nil; p = p.parent {
		segs = append(segs, p.name)
	}
	for i, j := 0, len(segs)-1; i < j; i, j = i+1, j-1 {
		segs[i], segs[j] = segs[j], segs[i]
	}
	return strings.Join(segs, "/")
}

type movedFrom struct {
	dir   *watchedDir
	name  string
	isDir bool
	node  *watchedDir // the directory's watch, if it had one
	rel   string      // its path when it moved
}

// dirName2 is a name in a watched directory.
type dirName2 struct {
	dir  *watchedDir
	name string
}

// errWatchedElsewhere: add_watch gave a watch the tree already has (the
// directory moved here, or is mounted here a second time).
var errWatchedElsewhere = errors.New("directory already watched")

const inotifyMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO |
	unix.IN_MODIFY | unix.IN_ATTRIB | unix.IN_CLOSE_WRITE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_EXCL_UNLINK

func openInotify(s *sink, opts Options) (backend, error) {
	root, err := unix.Open(s.source, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.source, err)
	}
	wake, err := newWaker()
	if err != nil {
		unix.Close(root)
		return nil, err
	}
	b := &inotifyBackend{s: s, kernelQueue: kernelQueue{root: root, wake: wake}, max: opts.MaxWatches,
		pollEvery: opts.PollInterval, buf: make([]byte, 64<<10)}
	if err := b.start(); err != nil {
		unix.Close(root)
		wake.close()
		return nil, err
	}
	return b, nil
}

// start makes a new inotify instance and watches the whole tree.
func (b *inotifyBackend) start() error {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return fmt.Errorf("inotify_init1: %w", err)
	}
	b.fd = fd
	b.byWd = map[int32]*watchedDir{}
	b.moves = map[uint32]movedFrom{}
	b.displaced = map[dirName2]*watchedDir{}
	b.adopted = map[dirName2]bool{}
	b.ignoring = map[uint32]bool{}
	b.movesUntil = time.Time{}
	b.polled = map[string]tree{}
	clear(b.s.listed)
	b.watches.Store(0)
	b.unwatched.Store(0)
	top, err := b.addWatch(nil, "", "")
	if err != nil {
		unix.Close(fd)
		return fmt.Errorf("watch %s: %w", b.s.source, err)
	}
	b.top = top
	b.watchTree(top, nil)
	return nil
}

func (b *inotifyBackend) run() {
	defer b.release()
	var flushes []chan struct{}
	for {
		flushes = b.s.takeFlushes(flushes)
		mark := b.s.ledger.mark()
		n, err := unix.Read(b.fd, b.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if len(b.moves) > 0 {
				// A MOVED_TO may be a moment behind its MOVED_FROM: wait
				// for it (a flush's wake-up does not cut the wait short).
				if b.movesUntil.IsZero() {
					b.movesUntil = time.Now().Add(moveGrace)
				}
				if left := time.Until(b.movesUntil); left > 0 {
					if _, stop := b.wake.wait(b.fd, int(left/time.Millisecond)+1); stop {
						return
					}
					continue
				}
				b.movedOut()
			}
			b.movesUntil = time.Time{}
			clear(b.displaced)
			clear(b.adopted)
			clear(b.ignoring)
			if len(b.polled) > 0 && (len(flushes) > 0 || time.Since(b.lastPoll) >= b.pollEvery) {
				b.pollRegions(mark)
			}
			retired := mark
			if len(b.polled) > 0 {
				retired = min(mark, b.regionMark)
			}
			b.s.ledger.retire(retired)
			b.s.forgetListed(mark)
			flushes = answer(flushes)
			if b.s.flushWaiting() {
				continue // its poke may have been taken by an earlier wait
			}
			timeout := -1
			if len(b.polled) > 0 {
				timeout = int(max(0, b.pollEvery-time.Since(b.lastPoll))/time.Millisecond) + 1
			}
			if _, stop := b.wake.wait(b.fd, timeout); stop {
				return
			}
			b.s.gather()
			continue
		case err != nil:
			b.s.rescan("", "inotify read: "+err.Error())
			return
		}
		if !b.handle(b.buf[:n]) {
			return
		}
	}
}

// moveGrace is how long a lone MOVED_FROM waits for its MOVED_TO once
// the queue is empty; without one the object left SOURCE.
const moveGrace = 5 * time.Millisecond

// handle translates one read; false: the backend cannot go on.
func (b *inotifyBackend) handle(buf []byte) bool {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			return true
		}
		name := strings.TrimRight(string(buf[unix.SizeofInotifyEvent:end]), "\x00")
		buf = buf[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			return b.overflow()
		}
		b.note(ev.Wd, ev.Mask, ev.Cookie, name)
	}
	return true
}

// note translates one inotify event.
func (b *inotifyBackend) note(wd int32, mask, cookie uint32, name string) {
	d, ok := b.byWd[wd]
	if !ok {
		return // a watch already dropped
	}
	if mask&unix.IN_IGNORED != 0 {
		for k, x := range b.displaced {
			if x == d {
				delete(b.displaced, k) // it was replaced, not exchanged
			}
		}
		b.forget(d)
		return
	}
	if name == "" {
		// The directory itself. Its parent's watch reports it under its
		// name, except for the root.
		if d == b.top {
			b.rootNote(mask)
		}
		return
	}
	isDir := mask&unix.IN_ISDIR != 0
	rel := relpath.Join(d.rel(), name)
	switch {
	case mask&unix.IN_CREATE != 0:
		b.appeared(d, name, rel, isDir, false)
	case mask&unix.IN_DELETE != 0:
		if ch := d.children[name]; ch != nil && isDir {
			b.unlink(ch)
		}
		if isDir {
			b.polledMoved(rel, "")
		}
		b.s.removed(rel, isDir, false)
	case mask&unix.IN_MOVED_FROM != 0:
		key := dirName2{d, name}
		if b.adopted[key] {
			delete(b.adopted, key)
			b.ignoring[cookie] = true
			return
		}
		node := d.children[name]
		if x := b.displaced[key]; x != nil {
			// The second half of an exchange: the directory that had this
			// name before the first half took it.
			node = x
			delete(b.displaced, key)
		}
		b.moves[cookie] = movedFrom{dir: d, name: name, isDir: isDir, node: node, rel: rel}
	case mask&unix.IN_MOVED_TO != 0:
		if b.ignoring[cookie] {
			delete(b.ignoring, cookie)
			return
		}
		from, ok := b.moves[cookie]
		if !ok {
			b.appeared(d, name, rel, isDir, true)
			return
		}
		delete(b.moves, cookie)
		if ch := from.node; ch != nil {
			b.unlink(ch)
			if old := d.children[name]; old != nil && old != ch {
				b.unlink(old)
				b.displaced[dirName2{d, name}] = old
			}
			ch.parent, ch.name = d, name
			d.children[name] = ch
		} else if _, polled := b.polled[from.rel]; isDir && !polled {
			// An unwatched directory moved: try to watch it now. The
			// rename says it is here, with what it held.
			b.watchMoved(d, name, rel)
		}
		if isDir {
			b.polledMoved(from.rel, rel) // it, or directories below it
		}
		b.s.renamed(from.rel, rel, false)
	default:
		if mask&unix.IN_MODIFY != 0 {
			b.s.dataChanged(rel)
		}
		if mask&unix.IN_ATTRIB != 0 {
			b.s.attrChanged(rel)
		}
		if mask&unix.IN_CLOSE_WRITE != 0 {
			b.s.closedWrite(rel)
		}
	}
}

// appeared handles a name that came into d: created there, or moved in
// from outside SOURCE.
func (b *inotifyBackend) appeared(d *watchedDir, name, rel string, isDir, moved bool) {
	e, ok := b.s.noteCreated(rel, isDir, moved)
	if !ok || !isDir || !e.IsDir() {
		return
	}
	if _, watched := d.children[name]; !watched {
		b.newDir(d, name, rel)
	}
}

// newDir watches a directory that just appeared and reports what was
// already in it: made before the watch existed, no note will tell.
func (b *inotifyBackend) newDir(d *watchedDir, name, rel string) {
	sub, err := b.addWatch(d, name, rel)
	if err != nil {
		if sub == nil && !os.IsNotExist(err) {
			b.unwatchable(rel, err)
		}
		return
	}
	b.watchTree(sub, b.s.listedCreated)
}

// movedOut reports the MOVED_FROMs that found no partner: those objects
// left SOURCE, and their watches must go (they would report under paths
// that are no longer in the tree).
func (b *inotifyBackend) movedOut() {
	for cookie, from := range b.moves {
		delete(b.moves, cookie)
		if ch := from.node; ch != nil {
			b.unwatchTree(ch)
		}
		if from.isDir {
			b.polledMoved(from.rel, "")
		}
		b.s.removed(from.rel, from.isDir, true)
	}
}

// rootNote handles a note about SOURCE itself.
func (b *inotifyBackend) rootNote(mask uint32) {
	switch {
	case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF) != 0:
		b.s.rescan("", "SOURCE itself was removed or moved")
	case mask&unix.IN_ATTRIB != 0:
		b.s.attrChanged("")
	}
}

// overflow starts over on a new instance: every watch again, then one
// rescan of the whole tree. Changes made while rebuilding are queued on
// the new instance and follow the rescan.
func (b *inotifyBackend) overflow() bool {
	b.overflows.Add(1)
	unix.Close(b.fd)
	b.fd = -1
	if err := b.start(); err != nil {
		b.s.rescan("", "inotify overflow, and could not watch again: "+err.Error())
		return false
	}
	b.s.rescan("", "inotify queue overflow")
	return true
}

func (b *inotifyBackend) stats() any {
	return InotifyStats{Watches: b.watches.Load(), UnwatchedDirs: b.unwatched.Load(), Overflows: b.overflows.Load()}
}
