package kqshim

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/internal/relpath"
)

// noteClass is what a kernel note says happened, in the terms every
// backend can tell apart. A mount operation is expected to cause some of
// them; a note of the same class about the same name or object while that
// expectation stands is the operation's echo.
type noteClass uint8

const (
	noteCreated   noteClass = 1 << iota // a name appeared (create, mkdir, mknod, symlink, link)
	noteRemoved                         // a name went (unlink, rmdir, replaced by a rename)
	noteMovedFrom                       // a name was renamed away
	noteMovedTo                         // a name was renamed into place
	noteData                            // an object's data or size changed
	noteAttr                            // an object's metadata changed
	noteClosed                          // a descriptor open for writing was closed
)

// classesOf maps a change the mount announces (in the event vocabulary)
// to the kernel notes it can cause on SOURCE. It errs on the side of
// more: a note the operation does not in fact cause only widens the
// window in which a concurrent change of the same kind to the same
// object from underneath is taken for the mount's own.
func classesOf(t eventbus.Type) noteClass {
	switch t {
	case eventbus.Create, eventbus.Mkdir, eventbus.Mknod, eventbus.Symlink:
		// Created; an attribute note as well where the filesystem sends
		// one for a new object's ownership or mode.
		return noteCreated | noteAttr
	case eventbus.Link:
		return noteCreated | noteAttr
	case eventbus.Remove, eventbus.Rmdir:
		return noteRemoved
	case eventbus.Rename:
		// Either name may be source or destination (RENAME_EXCHANGE); a
		// replaced destination is removed.
		return noteMovedFrom | noteMovedTo | noteRemoved
	case eventbus.Write:
		return noteData
	case eventbus.Truncate, eventbus.Chmod, eventbus.Chown, eventbus.Utimes:
		// SETATTR: a time set alone shows as a data change; a truncate by
		// name opens, truncates and closes the file.
		return noteData | noteAttr | noteClosed
	case eventbus.Setxattr, eventbus.Removexattr:
		return noteAttr
	case eventbus.CloseWrite:
		return noteClosed
	}
	return 0
}

// Ledger recognises the kernel's notes of changes the mount made itself
// (echo suppression), for backends that cannot tell who made a change.
//
// # When an announcement stands
//
// Before each change to SOURCE the filesystem announces it (Expect): its
// type, the path(s) and, when known, the inode. The announcement stands
// while the operation runs and until the backend has read every note the
// kernel queued before the operation finished. Kernel notes are queued
// synchronously inside the system call, so "read everything queued up to
// a moment" is known exactly: the backend calls mark before it looks at
// its queue and retire(mark) once it has seen the queue empty (or, for
// scanning backends, once the scan that began after mark is diffed). An
// announcement whose operation finished before that mark is then spent.
//
// Within its window an announcement absorbs every note of its classes
// about its names or object, however many the kernel merged or split.
// The window is the operation plus the time the backend takes to read
// its queue empty (about a millisecond; a scan interval for poll). A
// change from underneath is absorbed only if it is of the same class, to
// the same object (where both the note and the announcement know the
// inode: a new file under an announced name is another object) within
// that window: a chmod made underneath right after the mount created the
// file is then taken for the mount's own. fanotify, which knows the
// mount's changes by pid, consults the ledger only for what the kernel
// does for the mount under another pid (passthrough writes, the close of
// the backing file), so it has no such window. Namespace notes are told
// apart by class: a foreign remove is never absorbed by the mount's
// create.
type Ledger struct {
	mu     sync.Mutex
	byPath map[string][]*expectation
	byIno  map[uint64][]*expectation
	// spent holds finished expectations in the order they finished, to
	// be dropped once the backend has drained past them.
	spent []*expectation

	epoch atomic.Uint64 // advanced by mark
	live  atomic.Int64  // announcements standing, for status

	// remote holds other hosts' changes (clustered mounts), retired by
	// time and looks rather than by the kernel's queue.
	remote remoteLedger
	// heldSince, if set, is when the oldest change the sink holds was
	// found (zero if none); see remoteLedger.retire.
	heldSince func() time.Time
}

type expectation struct {
	classes noteClass
	paths   [2]string
	ino     uint64
	gen     uint64 // birth time (ns) of the inode; 0 or 1: not known
	// aliases are names the object got from renames the mount made
	// while the expectation stood: a note read after the object is
	// gone carries only its name, and that is the new one.
	aliases []string
	done    bool
	epoch   uint64 // the epoch when the operation finished
}

// names are the paths the expectation covers: "" is the root when no
// inode is given, and no path at all when one is (the object is then
// known by its inode alone); the second name only when there is one.
func (x *expectation) names() []string {
	first := x.paths[:1]
	if x.paths[0] == "" && x.ino != 0 {
		first = nil
	}
	if x.paths[1] == "" {
		return first
	}
	return append(first, x.paths[1])
}

func newLedger() *Ledger {
	return &Ledger{byPath: map[string][]*expectation{}, byIno: map[uint64][]*expectation{}}
}

// Expect announces that the mount is about to make a change of type t to
// path (from: the other name of a rename or link; ino and gen: the
// object's inode number and birth time in ns, 0 if not known yet; with
// an inode and path "", the object is known by its inode alone). Call the returned function once the change
// has been made or has failed; until then, and until the backend has read
// past it, the kernel's notes of it are recognised as echoes.
func (l *Ledger) Expect(t eventbus.Type, path, from string, ino, gen uint64) (done func()) {
	c := classesOf(t)
	if c == 0 {
		return noop
	}
	x := &expectation{classes: c, paths: [2]string{path, from}, ino: ino, gen: gen}
	l.mu.Lock()
	for _, p := range x.names() {
		l.byPath[p] = append(l.byPath[p], x)
	}
	if ino != 0 {
		l.byIno[ino] = append(l.byIno[ino], x)
	}
	if t == eventbus.Rename && from != "" {
		l.followRename(from, path, x)
	}
	l.mu.Unlock()
	l.live.Add(1)
	return func() { l.finish(x) }
}

// followRename gives every standing expectation about from (or an object
// below it) the matching name under to.
func (l *Ledger) followRename(from, to string, self *expectation) {
	var moved []string
	for p := range l.byPath {
		if relpath.Under(p, from) {
			moved = append(moved, p)
		}
	}
	for _, p := range moved {
		np := to + p[len(from):]
		for _, x := range l.byPath[p] {
			if x != self && !slices.Contains(x.aliases, np) {
				x.aliases = append(x.aliases, np)
				l.byPath[np] = append(l.byPath[np], x)
			}
		}
	}
}

func (l *Ledger) finish(x *expectation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if x.done {
		return
	}
	x.done = true
	x.epoch = l.epoch.Load()
	l.spent = append(l.spent, x)
}

// isEcho reports whether a note of class c about path (and inode ino with
// birth time birth, if known) is the echo of a change the mount made. A
// birth time tells a file that got a recycled inode number apart from
// the one the mount announced.
func (l *Ledger) isEcho(c noteClass, path string, ino uint64, birth int64) bool {
	if l.live.Load() == 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, x := range l.byPath[path] {
		// A name can stand for another object by now (a log rotated
		// underneath while the mount keeps the old one open): where both
		// sides know the object, it must be the same.
		if x.classes&c != 0 && (ino == 0 || x.ino == 0 || x.is(ino, birth)) {
			return true
		}
	}
	if ino != 0 {
		for _, x := range l.byIno[ino] {
			if x.classes&c != 0 && x.is(ino, birth) {
				return true
			}
		}
	}
	return false
}

// is reports whether the expectation's object is the inode ino born at
// birth (a birth time not known on either side is taken to match).
func (x *expectation) is(ino uint64, birth int64) bool {
	return x.ino == ino && (x.gen <= 1 || birth == 0 || x.gen == uint64(birth))
}

// mark starts a look at the kernel's queue (or a scan); pass its value to
// retire once everything queued before it has been read.
func (l *Ledger) mark() uint64 { return l.epoch.Add(1) }

// retire drops the expectations of operations that finished before the
// given mark: every note they caused has been read.
func (l *Ledger) retire(mark uint64) {
	var held time.Time
	if l.heldSince != nil {
		held = l.heldSince()
	}
	l.remote.retire(mark, time.Now(), held)
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for n < len(l.spent) && l.spent[n].epoch < mark {
		l.drop(l.spent[n])
		n++
	}
	if n > 0 {
		l.spent = append(l.spent[:0], l.spent[n:]...)
		l.live.Add(-int64(n))
	}
}

func (l *Ledger) drop(x *expectation) {
	for _, p := range slices.Concat(x.names(), x.aliases) {
		unlist(l.byPath, p, x)
	}
	if x.ino != 0 {
		unlist(l.byIno, x.ino, x)
	}
}

func without[T comparable](xs []T, x T) []T {
	for i, y := range xs {
		if y == x {
			return append(xs[:i], xs[i+1:]...)
		}
	}
	return xs
}

// unlist removes v from the list m[k], and the key with its last value.
func unlist[K, T comparable](m map[K][]T, k K, v T) {
	if xs := without(m[k], v); len(xs) > 0 {
		m[k] = xs
	} else {
		delete(m, k)
	}
}

// standing is the number of announcements not yet retired (status).
func (l *Ledger) standing() int64 { return l.live.Load() }
