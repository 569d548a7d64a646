package kqshim

// Remote announcements: changes another host of a clustered share made,
// which this host's backend may see on the shared tree.

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// remoteLedger holds what other hosts changed, by path, for a bounded
// window.
//
// # The window
//
// A remote announcement is made when the other host's event arrives, so
// it cannot be tied to this kernel's queue as the mount's own are: the
// change was made elsewhere, at some moment before. It stands for at
// least its window (Options of the cluster: --cluster-echo-window,
// default 5s) and until the backend has completed two looks begun after
// it (two scans for poll, however long the interval). Within it, every
// note of its classes about its paths is absorbed, whoever made it:
// a change made underneath to the same path and of the same kind inside
// the window is taken for the remote one. Inodes are not compared: the
// other host's inode numbers need not be this host's (FUSE and SMB
// clients number objects themselves).
//
// A backend can also see the change before the remote event arrives
// (the same tree on one machine, or a fast kernel backend). The sink
// therefore holds each change it found for Config.Hold before it
// publishes it, and drops it then if a remote announcement covers it.
type remoteLedger struct {
	mu     sync.Mutex
	byPath map[string][]*remoteExp
	queue  []*remoteExp // in the order made, so in the order they expire
	live   atomic.Int64
}

type remoteExp struct {
	classes noteClass
	paths   [2]string
	until   time.Time
	mark    uint64 // the ledger's epoch when it was made
}

// remoteLimit bounds the announcements kept: beyond it the oldest go
// first, whatever their window.
const remoteLimit = 1 << 16

// remoteClassesOf is classesOf for another host's change, widened: the
// other host's create is followed by its writes and close, which a
// backend here may see folded into the creation; and a rename whose two
// notes this backend did not pair shows as a name removed and one
// created.
func remoteClassesOf(t eventbus.Type) noteClass {
	c := classesOf(t)
	switch t {
	case eventbus.Create:
		c |= noteData | noteClosed
	case eventbus.Rename:
		c |= noteCreated
	}
	return c
}

func (r *remoteLedger) expect(t eventbus.Type, path, from string, until time.Time, mark uint64) {
	c := remoteClassesOf(t)
	if c == 0 {
		return
	}
	x := &remoteExp{classes: c, paths: [2]string{path, from}, until: until, mark: mark}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byPath == nil {
		r.byPath = map[string][]*remoteExp{}
	}
	if t == eventbus.Rename && from != "" && from != path {
		// What was announced for the old name and is still to be noted
		// here may be noted under the new one: the other host's close of
		// a file it had written is announced with the name the file had
		// then, but its kernel close can come after a rename it made
		// next (its RELEASE is asynchronous), and a backend here then
		// reads the close under the new name.
		for _, old := range r.byPath[from] {
			r.add(&remoteExp{classes: old.classes, paths: [2]string{path}, until: until, mark: mark})
		}
	}
	r.add(x)
}

func (r *remoteLedger) add(x *remoteExp) {
	for _, p := range x.names() {
		r.byPath[p] = append(r.byPath[p], x)
	}
	r.queue = append(r.queue, x)
	r.live.Add(1)
	for len(r.queue) > remoteLimit {
		r.dropOldest()
	}
}

func (x *remoteExp) names() []string {
	if x.paths[1] == "" || x.paths[1] == x.paths[0] {
		return x.paths[:1]
	}
	return x.paths[:]
}

// covers reports whether a note of class c about path is another host's
// change.
func (r *remoteLedger) covers(c noteClass, path string) bool {
	if r.live.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.byPath[path] {
		if x.classes&c != 0 {
			return true
		}
	}
	return false
}

// retire drops the announcements whose window has passed and which two
// complete looks begun after them have covered (mark: the mark of the
// look just completed). While the sink holds a change found before an
// announcement's window ended (heldSince: when the oldest held change
// was found; zero if none), the announcement stays: that change is
// checked against it when it is released, however long the hold lasted
// (a NATS outage keeps changes held).
func (r *remoteLedger) retire(mark uint64, now, heldSince time.Time) {
	if r.live.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.queue) > 0 {
		x := r.queue[0]
		if now.Before(x.until) || mark < x.mark+2 || !heldSince.IsZero() && heldSince.Before(x.until) {
			return
		}
		r.dropOldest()
	}
}

func (r *remoteLedger) dropOldest() {
	x := r.queue[0]
	r.queue[0] = nil
	r.queue = r.queue[1:]
	for _, p := range x.names() {
		unlist(r.byPath, p, x)
	}
	r.live.Add(-1)
}

// noteOfEvent is the class of note a change the sink found came from,
// for checking a held change against remote announcements.
func noteOfEvent(t eventbus.Type) noteClass {
	switch t {
	case eventbus.Create, eventbus.Mkdir, eventbus.Mknod, eventbus.Symlink, eventbus.Link:
		return noteCreated
	case eventbus.Remove, eventbus.Rmdir:
		return noteRemoved
	case eventbus.Rename:
		return noteMovedFrom | noteMovedTo
	case eventbus.Write, eventbus.Truncate:
		return noteData
	case eventbus.Chmod, eventbus.Chown, eventbus.Utimes, eventbus.Setxattr, eventbus.Removexattr:
		return noteAttr
	case eventbus.CloseWrite:
		return noteClosed
	}
	return 0
}

// coversEvent reports whether a change the sink found is another host's,
// by its paths.
func (r *remoteLedger) coversEvent(ev *eventbus.Event) bool {
	c := noteOfEvent(ev.Type)
	if c == 0 {
		return false
	}
	if r.covers(c, ev.Path) {
		return true
	}
	return ev.From != "" && r.covers(c, ev.From)
}

// ExpectRemote announces a change another host of a clustered share
// made (its event: type, path, from), so that the backend, seeing it on
// the shared tree, does not report it again; window is the least time
// the announcement stands (see remoteLedger). A change already found
// and still held (Config.Hold) is dropped.
func (w *Watcher) ExpectRemote(ev *eventbus.Event, window time.Duration) {
	w.s.ledger.remote.expect(ev.Type, ev.Path, ev.From, time.Now().Add(window), w.s.ledger.epoch.Load())
}
