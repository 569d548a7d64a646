package kqshim

import (
	"errors"
	"fmt"
	"time"
)

// This file is the kqueue backend's translation of vnode notes into
// changes (the model is described in backend_kqueue.go). It has no build
// tag: the kernel side sits behind kqSource, so the translation builds
// everywhere and is tested on every system against a fake source and a
// real directory tree (kqueue_notes_test.go).

// kqFlags are kqueue's vnode notes (EVFILT_VNODE fflags) in the package's
// own bits.
type kqFlags uint32

const (
	kqDelete kqFlags = 1 << iota // NOTE_DELETE: unlinked (FreeBSD: any of its names), rmdir'ed
	kqWrite                      // NOTE_WRITE: a file's data; a directory's entries
	kqExtend                     // NOTE_EXTEND: a file grew; (FreeBSD) an entry moved between directories
	kqAttrib                     // NOTE_ATTRIB
	kqLink                       // NOTE_LINK: the link count changed
	kqRename                     // NOTE_RENAME
	kqRevoke                     // NOTE_REVOKE: revoke(2), or its filesystem went away

	// kqEntries: on a directory, its entries changed.
	kqEntries = kqWrite | kqExtend | kqLink
	// kqGone: the object left its name (or lost access to it).
	kqGone = kqDelete | kqRename | kqRevoke
)

// kqHandle names one watched object of a kqSource (the descriptor).
type kqHandle int

const kqNoHandle kqHandle = -1

// kqNote is one note read from the kernel's queue.
type kqNote struct {
	h     kqHandle
	flags kqFlags
}

// kqSource is the kernel side of the kqueue backend: descriptors and their
// notes. backend_kqueue.go has the real one.
type kqSource interface {
	// open watches the object called name in the watched directory dir,
	// resolved beneath it without following a symlink; with kqNoHandle,
	// the directory at the absolute path name. It returns the identity
	// of what it opened, and errKqUnwatchable if that is neither a
	// directory nor a regular file.
	open(dir kqHandle, name string) (kqHandle, entry, error)
	// forget stops watching h and releases its descriptor. Notes of h
	// still queued are discarded with it.
	forget(h kqHandle)
	// read returns the notes queued, waiting up to timeout for the first
	// when there are none (0: not at all, < 0: without limit). It returns
	// nothing when the timeout passes or interrupt is called.
	read(timeout time.Duration) ([]kqNote, error)
	// interrupt makes a read that is waiting return now (or the next
	// one, if none is waiting).
	interrupt()
	// where reports the link count of h's object and, where the system
	// can tell (macOS: F_GETPATH), its absolute path now; "" otherwise.
	where(h kqHandle) (abs string, nlink uint32, err error)
	// close releases the queue.
	close() error
}

var errKqUnwatchable = errors.New("kqshim: neither a directory nor a regular file")

const (
	// kqGrace is how long an object that left its directory for a place
	// not known yet waits for the rest of its notes (a read can fall
	// between the notes one rename(2) posts) before it is taken to have
	// left SOURCE.
	kqGrace = 10 * time.Millisecond
	// kqMaxBatch bounds the notes translated at once, so that a flood
	// is still reported while it lasts.
	kqMaxBatch = 1 << 16
	// kqMaxDepth guards path walks against a cycle of bad links.
	kqMaxDepth = 4096
)

// kqNode is one object of SOURCE as last seen: a name in its directory.
// Paths are computed from the links when needed, so a moved directory
// carries its contents (and their descriptors) along.

func (k *kqBackend) run() {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	k.running = true
	k.mu.Unlock()
	defer close(k.exited)
	defer func() { k.releaseErr = k.release() }()

	var flushes []chan struct{}
	for !k.stopping.Load() {
		flushes = k.s.takeFlushes(flushes)
		drained, err := k.cycle(k.wait(len(flushes) > 0))
		if k.stopping.Load() {
			return
		}
		if err != nil {
			k.s.rescan("", "kqueue: "+err.Error())
			return
		}
		k.pollRegions(len(flushes) > 0)
		k.retire()
		// A flush is answered once the queue was found empty after it
		// was asked for, and no object is still waiting for its notes.
		if drained && len(k.parked) == 0 {
			flushes = answer(flushes)
		}
	}
}

// wait is how long the next look at the queue may block.
func (k *kqBackend) wait(flush bool) time.Duration {
	if k.behind || (flush && len(k.parked) == 0) {
		return 0
	}
	d := time.Duration(-1)
	if len(k.regions) > 0 {
		d = max(0, k.every-time.Since(k.lastPoll))
	}
	if len(k.parked) > 0 {
		g := max(k.grace, time.Millisecond)
		if d < 0 || g < d {
			d = g
		}
	}
	return d
}

// cycle is one look at the queue: wait for notes, read until the queue is
// empty, translate. Notes are queued inside the system call that causes
// them, so once the queue has been found empty, every change finished
// before the mark has been read (see Ledger).
func (k *kqBackend) cycle(wait time.Duration) (drained bool, err error) {
	notes, err := k.src.read(wait)
	if err != nil {
		return false, err
	}
	mark := k.s.ledger.mark()
	for len(notes) < kqMaxBatch {
		more, err := k.src.read(0)
		if err != nil {
			return false, err
		}
		if len(more) == 0 {
			drained = true
			break
		}
		notes = append(notes, more...)
	}
	k.process(notes)
	k.behind = !drained
	if drained {
		k.kqMark = mark
	}
	return drained, nil
}

// process translates one batch of notes. Notes only say where to look:
// every name reported comes from comparing a directory's listing with
// the one before, so whichever note of a change comes first reports it,
// and the others find nothing left to report.
func (k *kqBackend) process(notes []kqNote) {
	touched := k.collect(notes)
	b := newKqBatch(k)
	for d := range k.stale {
		b.dirty[d] = true
	}
	clear(k.stale)
	for _, w := range touched {
		k.classify(b, w)
	}
	b.discover()
	for d := range b.dirty {
		if _, known := b.newPath(d); !known {
			k.stale[d] = true
		}
	}
	b.decide()
	b.emit()
	for _, w := range touched {
		k.reportInPlace(w)
		w.flags = 0
	}
	k.handOver()
	k.drains++
}

// collect merges the notes of each descriptor. Handles are resolved now,
// before the batch closes any descriptor whose number the system may
// hand out again.
func (k *kqBackend) collect(notes []kqNote) []*kqWatch {
	var touched []*kqWatch
	for _, n := range notes {
		w := k.watches[n.h]
		if w == nil || n.flags == 0 {
			continue // a descriptor dropped already
		}
		if w.flags == 0 {
			touched = append(touched, w)
		}
		w.flags |= n.flags
	}
	return touched
}

// classify marks the directories whose listing the notes call into
// question: a directory whose entries changed, and the directory of an
// object that left its name.
func (k *kqBackend) classify(b *kqBatch, w *kqWatch) {
	for _, n := range w.names {
		if n.IsDir() && w.flags&kqEntries != 0 {
			b.dirty[n] = true
		}
		if w.flags&kqGone == 0 {
			continue
		}
		if n == k.root {
			if !k.rootGone {
				k.rootGone = true
				k.s.rescan("", "SOURCE itself was removed, moved or revoked")
			}
			continue
		}
		if n.parent != nil {
			b.dirty[n.parent] = true
		}
	}
}

// reportInPlace reports the data and attribute notes of an object still
// in the tree, under its name now. The attributes are compared with those
// last seen, so that a note is reported as the change it is: a size
// change is a write or truncate, an attribute note that comes with a
// write is that write's (unless mode or owner changed too).
func (k *kqBackend) reportInPlace(w *kqWatch) {
	f := w.flags
	if w.closed || f&(kqAttrib|kqWrite|kqExtend) == 0 {
		return
	}
	var n *kqNode
	for _, m := range w.names {
		if m.attached(k.root) {
			n = m
			break
		}
	}
	if n == nil {
		return
	}
	rel := n.path()
	cur, err := k.s.statRel(rel)
	if err != nil || !kqSame(cur, n.e) {
		return // gone or replaced: the directory's notes say so
	}
	prev := n.e
	n.e = cur
	entries := n.IsDir() && f&kqEntries != 0
	data := !n.IsDir() && (f&(kqWrite|kqExtend) != 0 || cur.Size != prev.Size)
	owner := cur.Mode != prev.Mode || cur.UID != prev.UID || cur.GID != prev.GID
	if f&kqAttrib != 0 && (owner || (!data && !entries)) {
		k.s.attrChanged(rel)
	}
	if data {
		k.s.dataChanged(rel)
	}
}

func (k *kqBackend) close() error {
	k.mu.Lock()
	k.closed = true
	running := k.running
	k.mu.Unlock()
	k.stopping.Store(true)
	k.src.interrupt()
	if !running {
		return k.release()
	}
	<-k.exited
	return k.releaseErr
}

func (k *kqBackend) release() error {
	for h, w := range k.watches {
		w.closed = true
		k.src.forget(h)
	}
	clear(k.watches)
	if err := k.src.close(); err != nil {
		return fmt.Errorf("kqueue: close: %w", err)
	}
	return nil
}

func (k *kqBackend) poke() { k.src.interrupt() }

func (k *kqBackend) stats() any {
	dirs, files := k.dirs.Load(), k.files.Load()
	st := KqueueStats{Watches: dirs + files, WatchedDirs: dirs, WatchedFiles: files, MaxWatches: k.budget, PolledDirs: k.polled.Load()}
	if st.PolledDirs > 0 {
		st.PollInterval = k.every.String()
	}
	return st
}
