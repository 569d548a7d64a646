package kqshim

import (
	"strings"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// A daemon killed (or crashed) writes no last index: the one on disk
// covers the stream up to some seq S, and the journal holds what was
// published after it. Those events were delivered; comparing SOURCE with
// the index alone would deliver them a second time. So the journal's
// events after S are first applied to the index, taking what each says
// of its object (identity, type, size) and, where it says nothing more,
// SOURCE's present state: a path changed in that window and again while
// no daemon ran is reported when its identity, type or size differ
// from what the last event said (not for a change of times alone, or a
// same-size rewrite: the event does not carry times). The window is at most
// IndexConfig.Interval long.

// replayWindow bounds how long reading the journal may take at mount.
const replayWindow = 10 * time.Second

// replayJournal applies the events the bus holds after the index's
// cursor to old, with now (SOURCE as scanned at mount) filling in what
// the events do not carry. false: the bus cannot serve that cursor (a
// new journal, or beyond retention), and old is unchanged.
func replayJournal(bus *eventbus.Bus, h indexHeader, old, now tree) bool {
	target := bus.Seq()
	if h.epoch != bus.Epoch() || h.seq > target {
		return false
	}
	if h.seq == target {
		return true
	}
	sub, err := bus.Subscribe("offline-replay", eventbus.Filter{}, &eventbus.Cursor{Epoch: h.epoch, Seq: h.seq})
	if err != nil {
		return false
	}
	defer sub.Close()
	r := &replay{old: old, now: now}
	deadline := time.After(replayWindow)
	var buf []*eventbus.Event
	for pos := h.seq; pos < target; {
		buf, pos, _ = sub.Take(buf[:0], 4096)
		for _, ev := range buf {
			if ev.Type == eventbus.Reset {
				return false
			}
			r.apply(ev)
		}
		if len(buf) > 0 {
			continue
		}
		select {
		case <-sub.Ready():
		case <-deadline:
			return true
		}
	}
	return true
}

// replay applies events to old, with now filling in.
type replay struct {
	old, now tree
	byIno    map[uint64][]string // of now, built on first use: not a walk of the tree per event
}

// apply makes old say what subscribers were told by ev.
func (r *replay) apply(ev *eventbus.Event) {
	old, now := r.old, r.now
	switch ev.Type {
	case eventbus.Unmount, eventbus.Overflow, eventbus.Reset:
	case eventbus.Rescan:
		// Subscribers were told to read the subtree again: they know it
		// as it is.
		replaceSubtree(old, now, ev.Path)
	case eventbus.Remove:
		delete(old, ev.Path)
	case eventbus.Rmdir:
		deleteSubtree(old, ev.Path)
	case eventbus.Rename:
		moved := map[string]entry{}
		for p, e := range old {
			if rest, ok := under(p, ev.From); ok {
				moved[ev.Path+rest] = e
				delete(old, p)
			}
		}
		if ev.Exchange {
			for p, e := range old {
				if rest, ok := under(p, ev.Path); ok {
					moved[ev.From+rest] = e
					delete(old, p)
				}
			}
		} else {
			deleteSubtree(old, ev.Path)
		}
		for p, e := range moved {
			old[p] = e
		}
		r.told(ev)
	default:
		r.told(ev)
	}
}

// told records ev's object as the event described it: its identity,
// type, mode and size; the rest as SOURCE has it now (events do not
// carry times), and the owner as the index knew it, except where the
// event says who owns it (a chown, or a creation through the mount: new
// objects are born their creator's).
func (r *replay) told(ev *eventbus.Event) {
	old, now := r.old, r.now
	prev, had := old[ev.Path]
	e, ok := now[ev.Path]
	if !ev.HasAttr {
		if ok {
			old[ev.Path] = e
		}
		return
	}
	if !ok || e.Ino != ev.Ino || e.Mode&0o170000 != ev.Mode&0o170000 {
		e = r.toldObject(ev)
	}
	switch {
	case ev.Type == eventbus.Chown:
	case ev.Origin == eventbus.OriginMount && createsObject(ev.Type):
		e.UID, e.GID = ev.Uid, ev.Gid
	case had && sameObject(prev, e):
		e.UID, e.GID = prev.UID, prev.GID
	}
	e.Size, e.Mode = ev.Size, ev.Mode
	old[ev.Path] = e
}

// toldObject is the object ev described, which is no longer at its
// path: moved since, if SOURCE has its inode number with the same type
// and a birth time not after the event (an inode number recycled for an
// object made later has a later one); else an entry that matches no
// object of SOURCE (its birth time is the event's, which no object born
// later has), so that it reads as removed.
func (r *replay) toldObject(ev *eventbus.Event) entry {
	if r.byIno == nil {
		r.byIno = make(map[uint64][]string, len(r.now))
		for p, e := range r.now {
			r.byIno[e.Ino] = append(r.byIno[e.Ino], p)
		}
	}
	born := ev.Time.UnixNano()
	for _, p := range r.byIno[ev.Ino] {
		if e := r.now[p]; e.Mode&0o170000 == ev.Mode&0o170000 && e.Birth <= born {
			return e
		}
	}
	return entry{Ino: ev.Ino, Mode: ev.Mode, Birth: born}
}

func createsObject(t eventbus.Type) bool {
	switch t {
	case eventbus.Create, eventbus.Mkdir, eventbus.Symlink, eventbus.Mknod:
		return true
	}
	return false
}

// under reports whether p is root or inside it, and the rest of p.
func under(p, root string) (string, bool) {
	if p == root {
		return "", true
	}
	if root == "" {
		return "/" + p, true
	}
	rest, ok := strings.CutPrefix(p, root+"/")
	return "/" + rest, ok
}

func deleteSubtree(t tree, root string) {
	for p := range t {
		if _, ok := under(p, root); ok && p != "" {
			delete(t, p)
		}
	}
}

func replaceSubtree(old, now tree, root string) {
	deleteSubtree(old, root)
	for p, e := range now {
		if _, ok := under(p, root); ok {
			old[p] = e
		}
	}
}
