package kqueue

import (
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// Sink is what the translation needs of kqshim: SOURCE, the steps every
// backend shares to report a change (each checks the mount's
// announcements, types the change from what it stats and publishes it),
// the echo ledger's marks, and the flushes waiting. kqshim's sink
// implements it (kqshim/kqueue_sink.go).
type Sink interface {
	// Source is SOURCE's absolute path, as Config spells it.
	Source() string
	// RootFD is SOURCE's directory descriptor (-1: it could not be
	// opened); paths are resolved beneath it.
	RootFD() int
	// Rel turns an absolute path into one relative to SOURCE; false if
	// it is not beneath SOURCE.
	Rel(abs string) (string, bool)
	// StatRel stats rel beneath SOURCE, not following a final symlink.
	StatRel(rel string) (fsobj.Entry, error)
	// Logf logs (a message for the operator).
	Logf(format string, args ...any)

	// Created, Removed, Renamed, AttrChanged and DataChanged report a
	// change at rel, unless it is the mount's own.
	Created(rel string, isDir, moved bool)
	Removed(rel string, isDir, moved bool)
	Renamed(from, to string, replaced bool)
	AttrChanged(rel string)
	DataChanged(rel string)
	// Rescan tells subscribers to re-read rel's subtree.
	Rescan(rel, why string)
	// Baseline records an object's attributes, so that its first
	// attribute change is typed.
	Baseline(e fsobj.Entry)

	// Scan lists the subtree rel (relative path → entry, rel itself
	// left out); Diff is the changes that turn one scan into the other,
	// with paths relative to the scanned directory.
	Scan(rel string) (map[string]fsobj.Entry, error)
	Diff(old, new map[string]fsobj.Entry) []*eventbus.Event
	// InferredEcho matches a change inferred from two scans against the
	// mount's announcements; Emit delivers one that is not.
	InferredEcho(ev *eventbus.Event) bool
	Emit(ev *eventbus.Event)

	// Mark marks the ledger (before a look at the queue); Retire spends
	// the announcements of changes finished before mark.
	Mark() uint64
	Retire(mark uint64)
	// TakeFlushes appends the flushes asked for so far to into; each is
	// answered (closed) once a look at the queue that began after it was
	// taken is complete.
	TakeFlushes(into []chan struct{}) []chan struct{}
}
