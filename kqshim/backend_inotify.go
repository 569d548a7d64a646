//go:build linux

package kqshim

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
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

	byWd   map[int32]*watchedDir
	top    *watchedDir
	moves  map[uint32]movedFrom
	listed map[string]listedEntry

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
}

type listedEntry struct {
	ino   uint64
	epoch uint64
}

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
	b := &inotifyBackend{s: s, kernelQueue: kernelQueue{root: root, wake: wake}, max: opts.MaxWatches, buf: make([]byte, 64<<10)}
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
	b.listed = map[string]listedEntry{}
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

// addWatch watches the directory rel, resolved beneath SOURCE without
// following any symlink, so no watch can land outside the tree.
func (b *inotifyBackend) addWatch(parent *watchedDir, name, rel string) (*watchedDir, error) {
	if b.max > 0 && b.watches.Load() >= int64(b.max) {
		return nil, fmt.Errorf("watch budget of %d reached", b.max)
	}
	fd, err := openBeneath(b.root, rel, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	wd, err := unix.InotifyAddWatch(b.fd, "/proc/self/fd/"+strconv.Itoa(fd), inotifyMask)
	unix.Close(fd)
	if err != nil {
		return nil, err
	}
	if old, ok := b.byWd[int32(wd)]; ok {
		// The same directory under two names (a bind mount inside SOURCE).
		return old, fmt.Errorf("already watched as %q", old.rel())
	}
	d := &watchedDir{wd: int32(wd), name: name, parent: parent, children: map[string]*watchedDir{}}
	b.byWd[d.wd] = d
	if parent != nil {
		parent.children[name] = d
	}
	b.watches.Add(1)
	return d, nil
}

// watchTree watches every directory below d. report, if set, is called
// with every entry found (shallowest first), before its own contents.
func (b *inotifyBackend) watchTree(d *watchedDir, report func(rel string, isDir bool)) {
	queue := []*watchedDir{d}
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		rel := dir.rel()
		names, err := readDirNames(b.root, rel)
		if err != nil {
			continue // gone already: its parent's notes say so
		}
		for _, ent := range names {
			child := joinRel(rel, ent.name)
			if report != nil {
				report(child, ent.dir)
			}
			if !ent.dir {
				continue
			}
			sub, err := b.addWatch(dir, ent.name, child)
			if err != nil {
				if sub == nil && !os.IsNotExist(err) && err != unix.ENOTDIR && err != unix.ELOOP {
					b.unwatched.Add(1)
					b.s.rescan(child, "cannot watch: "+err.Error())
				}
				continue
			}
			queue = append(queue, sub)
		}
	}
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
				// A MOVED_TO may be a moment behind its MOVED_FROM.
				if ready, stop := b.wake.wait(b.fd, 5); stop {
					return
				} else if ready {
					continue
				}
				b.movedOut()
			}
			b.s.ledger.retire(mark)
			b.forgetListed(mark)
			flushes = answer(flushes)
			if b.s.flushWaiting() {
				continue // its poke may have been taken by an earlier wait
			}
			if _, stop := b.wake.wait(b.fd, -1); stop {
				return
			}
			b.s.gather()
			continue
		case err != nil:
			b.s.rescan("", "inotify read: "+err.Error())
			return
		}
		b.handle(b.buf[:n])
	}
}

func (b *inotifyBackend) handle(buf []byte) {
	for len(buf) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			return
		}
		name := strings.TrimRight(string(buf[unix.SizeofInotifyEvent:end]), "\x00")
		buf = buf[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			b.overflow()
			return
		}
		b.note(ev.Wd, ev.Mask, ev.Cookie, name)
	}
}

// note translates one inotify event.
func (b *inotifyBackend) note(wd int32, mask, cookie uint32, name string) {
	d, ok := b.byWd[wd]
	if !ok {
		return // a watch already dropped
	}
	if mask&unix.IN_IGNORED != 0 {
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
	rel := joinRel(d.rel(), name)
	switch {
	case mask&unix.IN_CREATE != 0:
		b.appeared(d, name, rel, isDir, false)
	case mask&unix.IN_DELETE != 0:
		if ch := d.children[name]; ch != nil && isDir {
			b.unlink(ch)
		}
		b.s.removed(rel, isDir, false)
	case mask&unix.IN_MOVED_FROM != 0:
		b.moves[cookie] = movedFrom{dir: d, name: name, isDir: isDir}
	case mask&unix.IN_MOVED_TO != 0:
		from, ok := b.moves[cookie]
		if !ok {
			b.appeared(d, name, rel, isDir, true)
			return
		}
		delete(b.moves, cookie)
		fromRel := joinRel(from.dir.rel(), from.name)
		if ch := from.dir.children[from.name]; ch != nil {
			delete(from.dir.children, from.name)
			if old := d.children[name]; old != nil {
				b.unlink(old)
			}
			ch.parent, ch.name = d, name
			d.children[name] = ch
		} else if isDir {
			// An unwatched directory moved: watch it now.
			b.appeared(d, name, rel, true, true)
		}
		b.s.renamed(fromRel, rel, false)
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
	if l, ok := b.listed[rel]; ok {
		// Already reported by the listing of a new directory.
		delete(b.listed, rel)
		if e, err := b.s.statRel(rel); err == nil && e.ino == l.ino {
			if isDir {
				if _, watched := d.children[name]; !watched {
					b.newDir(d, name, rel)
				}
			}
			return
		}
	}
	e, ok := b.s.created(rel, isDir, moved)
	if !ok || !isDir || !e.isDir() {
		return
	}
	b.newDir(d, name, rel)
}

// newDir watches a directory that just appeared and reports what was
// already in it: made before the watch existed, no note will tell.
func (b *inotifyBackend) newDir(d *watchedDir, name, rel string) {
	sub, err := b.addWatch(d, name, rel)
	if err != nil {
		if sub == nil && !os.IsNotExist(err) {
			b.unwatched.Add(1)
			b.s.rescan(rel, "cannot watch: "+err.Error())
		}
		return
	}
	epoch := b.s.ledger.epoch.Load()
	b.watchTree(sub, func(child string, isDir bool) {
		if e, ok := b.s.created(child, isDir, false); ok {
			b.listed[child] = listedEntry{ino: e.ino, epoch: epoch}
		}
	})
}

// forgetListed drops listing records the queue has been drained past.
func (b *inotifyBackend) forgetListed(mark uint64) {
	for rel, l := range b.listed {
		if l.epoch < mark {
			delete(b.listed, rel)
		}
	}
}

// movedOut reports the MOVED_FROMs that found no partner: those objects
// left SOURCE, and their watches must go (they would report under paths
// that are no longer in the tree).
func (b *inotifyBackend) movedOut() {
	for cookie, from := range b.moves {
		delete(b.moves, cookie)
		rel := joinRel(from.dir.rel(), from.name)
		if ch := from.dir.children[from.name]; ch != nil {
			b.unwatchTree(ch)
		}
		b.s.removed(rel, from.isDir, true)
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
func (b *inotifyBackend) overflow() {
	b.overflows.Add(1)
	unix.Close(b.fd)
	if err := b.start(); err != nil {
		b.s.rescan("", "inotify overflow, and could not watch again: "+err.Error())
		return
	}
	b.s.rescan("", "inotify queue overflow")
}

// unlink detaches d from the tree (it was removed or replaced); its
// watch goes by itself (IN_IGNORED).
func (b *inotifyBackend) unlink(d *watchedDir) {
	if d.parent != nil && d.parent.children[d.name] == d {
		delete(d.parent.children, d.name)
	}
}

// unwatchTree removes the watches of d and everything below it.
func (b *inotifyBackend) unwatchTree(d *watchedDir) {
	b.unlink(d)
	var walk func(*watchedDir)
	walk = func(x *watchedDir) {
		for _, ch := range x.children {
			walk(ch)
		}
		unix.InotifyRmWatch(b.fd, uint32(x.wd))
		b.forget(x)
	}
	walk(d)
}

func (b *inotifyBackend) forget(d *watchedDir) {
	if b.byWd[d.wd] == d {
		delete(b.byWd, d.wd)
		b.watches.Add(-1)
	}
	b.unlink(d)
}

func (b *inotifyBackend) stats(into map[string]any) {
	into["watches"] = b.watches.Load()
	into["unwatched_dirs"] = b.unwatched.Load()
	into["overflows"] = b.overflows.Load()
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return path.Join(dir, name)
}
