package kqshim

// The inotify backend's tree of watches (backend_inotify.go has the
// reading and translation of events): adding a watch per directory,
// following directories moved within SOURCE, polling those that cannot be
// watched, and forgetting what went.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/beneath"
	"github.com/notifyfs/notifyfs/internal/relpath"
)

// addWatch watches the directory rel, resolved beneath SOURCE without
// following any symlink, so no watch can land outside the tree.
func (b *inotifyBackend) addWatch(parent *watchedDir, name, rel string) (*watchedDir, error) {
	if b.max > 0 && b.watches.Load() >= int64(b.max) {
		return nil, fmt.Errorf("watch budget of %d reached", b.max)
	}
	fd, err := beneath.Open(b.root, rel, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	wd, err := unix.InotifyAddWatch(b.fd, "/proc/self/fd/"+strconv.Itoa(fd), inotifyMask)
	unix.Close(fd)
	if err != nil {
		return nil, err
	}
	if old, ok := b.byWd[int32(wd)]; ok {
		return old, errWatchedElsewhere
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
			child := relpath.Join(rel, ent.name)
			if !ent.dir {
				if report != nil {
					report(child, false)
				}
				continue
			}
			sub, err := b.addWatch(dir, ent.name, child)
			if errors.Is(err, errWatchedElsewhere) && b.adopt(sub, dir, ent.name, child) {
				continue // moved here: reported as a rename, its contents came along
			}
			if report != nil {
				report(child, true)
			}
			if err != nil {
				if sub == nil && !os.IsNotExist(err) && err != unix.ENOTDIR && err != unix.ELOOP {
					b.unwatchable(child, err)
				}
				continue
			}
			queue = append(queue, sub)
		}
	}
}

// watchMoved watches a directory that moved in unwatched, and what is
// below it, reporting nothing: its move is the news.
func (b *inotifyBackend) watchMoved(d *watchedDir, name, rel string) {
	sub, err := b.addWatch(d, name, rel)
	if err != nil {
		if sub == nil && !os.IsNotExist(err) {
			b.unwatchable(rel, err)
		}
		return
	}
	b.watchTree(sub, nil)
}

// unwatchable reports a directory that cannot be watched (the watch
// limit) and polls it from now on: one rescan says its state so far is
// unknown; later changes in it come from scans.
func (b *inotifyBackend) unwatchable(rel string, err error) {
	b.unwatched.Add(1)
	b.s.rescan(rel, "cannot watch: "+err.Error()+"; polled every "+b.pollEvery.String())
	if t, serr := scan(b.s.rootfd, rel); serr == nil {
		if len(b.polled) == 0 {
			b.regionMark = b.s.ledger.epoch.Load()
		}
		b.polled[rel] = t
	}
}

// pollRegions scans every polled directory and reports what changed in
// it since its last scan, matched against the mount's announcements as
// the poll backend does. mark is the ledger's mark taken before.
func (b *inotifyBackend) pollRegions(mark uint64) {
	for rel, last := range b.polled {
		t, err := scan(b.s.rootfd, rel)
		if err != nil {
			continue // gone: its parent's watch says so
		}
		for _, ev := range diff(last, t) {
			ev.Path = relpath.Join(rel, ev.Path)
			if ev.From != "" {
				ev.From = relpath.Join(rel, ev.From)
			}
			if !b.s.inferredEcho(ev) {
				b.s.emit(ev)
			}
		}
		b.polled[rel] = t
	}
	b.lastPoll = time.Now()
	b.regionMark = mark
}

// polledMoved keeps the polled directories' paths in step with a rename
// of from (to "" : removed or moved out).
func (b *inotifyBackend) polledMoved(from, to string) {
	for rel, t := range b.polled {
		rest, ok := strings.CutPrefix(rel, from)
		if !ok || (rest != "" && rest[0] != '/') {
			continue
		}
		delete(b.polled, rel)
		if to != "" {
			b.polled[to+rest] = t
		}
	}
}

// adopt handles a directory that a listing found already watched under
// another name. If its old name no longer holds it, it was moved here
// (into a directory too new for its watch to have seen the move, so no
// MOVED_TO will come): one rename, reported now, and the watches below
// it are kept; its MOVED_FROM, read now or later, is spent. false: the
// same directory is reachable twice (a bind mount), not moved.
func (b *inotifyBackend) adopt(node, dir *watchedDir, name, rel string) bool {
	oldRel := node.rel()
	if cur, err := b.s.statRel(oldRel); err == nil {
		if now, err := b.s.statRel(rel); err == nil && cur.Ino == now.Ino {
			return false
		}
	}
	pending := false
	for cookie, m := range b.moves {
		if m.node == node {
			delete(b.moves, cookie)
			b.ignoring[cookie] = true
			oldRel, pending = m.rel, true
		}
	}
	if !pending && node.parent != nil && node.parent.children[node.name] == node {
		b.adopted[dirName2{node.parent, node.name}] = true // its MOVED_FROM is still to come
	}
	b.unlink(node)
	node.parent, node.name = dir, name
	dir.children[name] = node
	if e, err := b.s.statRel(rel); err == nil {
		b.s.listed[rel] = listedEntry{ino: e.Ino, epoch: b.s.ledger.epoch.Load()}
	}
	b.s.renamed(oldRel, rel, false)
	return true
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
