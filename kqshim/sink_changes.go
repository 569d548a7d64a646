package kqshim

// The translation steps every backend shares: a name appeared, went or
// moved; data or attributes changed; a writer closed. Each checks the
// echo ledger, types the change from what it stats, and emits it.

import (
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/internal/relpath"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

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
	if t == eventbus.Create && e.Nlink > 1 && known && !moved {
		// A new name of a file already seen under another. (A file made
		// and linked before its creation was read has two links but was
		// never seen: its first name is a create.)
		t = eventbus.Link
	}
	ev := event(t, rel, "", e)
	if t == eventbus.Symlink {
		ev.Target, _ = s.readlinkRel(rel)
	}
	s.emit(ev)
	return e, true
}

// createdTree reports a directory that appeared with contents (moved in
// from outside SOURCE): the directory, then everything in it, shallowest
// first.
func (s *sink) createdTree(rel string, moved bool) {
	e, ok := s.created(rel, true, moved)
	if !ok || !e.IsDir() {
		return
	}
	t, err := scan(s.rootfd, rel)
	if err != nil {
		return
	}
	for _, p := range sortedByDepth(t) {
		s.listedCreated(relpath.Join(rel, p), t[p].IsDir())
	}
}

// listedCreated reports a name a listing found in a directory that just
// appeared, and remembers it until the backend has drained past the
// listing: a note of the same creation may still be queued (noteCreated
// then drops it).
func (s *sink) listedCreated(rel string, isDir bool) {
	if e, ok := s.created(rel, isDir, false); ok {
		s.listed[rel] = listedEntry{ino: e.Ino, epoch: s.ledger.epoch.Load()}
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
		if e, err := s.statRel(rel); err == nil && e.Ino == l.ino {
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
	seen := [2]int64{e.Size, e.Mtime}
	if w, ok := s.written[e.Ino]; ok && w == seen {
		return
	}
	if len(s.written) >= maxAttrs {
		clear(s.written)
	}
	s.written[e.Ino] = seen
	t := eventbus.Write
	if known && e.Size < prev.Size {
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
	if cur.Mode != prev.Mode {
		ts = append(ts, eventbus.Chmod)
	}
	if cur.UID != prev.UID || cur.GID != prev.GID {
		ts = append(ts, eventbus.Chown)
	}
	switch {
	case len(ts) > 0:
	case cur.Mtime != prev.Mtime && cur.Mtime != cur.Ctime:
		ts = append(ts, eventbus.Utimes)
	case cur.Ctime != prev.Ctime && cur.Mtime == prev.Mtime && cur.Size == prev.Size && cur.Nlink == prev.Nlink:
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

// sortedByDepth lists a scan's paths shallowest first.
func sortedByDepth(t tree) []string {
	keys := fsobj.SortedKeys(t)
	sortShallowFirst(keys)
	return keys
}
