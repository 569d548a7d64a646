package kqueue

import (
	"errors"
	"fmt"
	"time"

	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// This file is the kqueue backend's translation of vnode notes into
// changes (the model is described in doc.go). It has no build
// tag: the kernel side sits behind Source, so the translation builds
// everywhere and is tested on every system against a fake source and a
// real directory tree (notes_test.go).

// Flags are kqueue's vnode notes (EVFILT_VNODE fflags) in the package's
// own bits.
type Flags uint32

const (
	Delete Flags = 1 << iota // NOTE_DELETE: unlinked (FreeBSD: any of its names), rmdir'ed
	Write                    // NOTE_WRITE: a file's data; a directory's entries
	Extend                   // NOTE_EXTEND: a file grew; (FreeBSD) an entry moved between directories
	Attrib                   // NOTE_ATTRIB
	Link                     // NOTE_LINK: the link count changed
	Rename                   // NOTE_RENAME
	Revoke                   // NOTE_REVOKE: revoke(2), or its filesystem went away

	// Entries: on a directory, its entries changed.
	Entries = Write | Extend | Link
	// Gone: the object left its name (or lost access to it).
	Gone = Delete | Rename | Revoke
)

// Handle names one watched object of a Source (the descriptor).
type Handle int

const NoHandle Handle = -1

// Note is one note read from the kernel's queue.
type Note struct {
	h     Handle
	flags Flags
}

// Source is the kernel side of the kqueue backend: descriptors and their
// notes. source_bsd.go has the real one; notes_test.go a fake.
type Source interface {
	// open watches the object called name in the watched directory dir,
	// resolved beneath it without following a symlink; with NoHandle,
	// the directory at the absolute path name. It returns the identity
	// of what it opened, and errUnwatchable if that is neither a
	// directory nor a regular file.
	open(dir Handle, name string) (Handle, fsobj.Entry, error)
	// forget stops watching h and releases its descriptor. Notes of h
	// still queued are discarded with it.
	forget(h Handle)
	// read returns the notes queued, waiting up to timeout for the first
	// when there are none (0: not at all, < 0: without limit). It returns
	// nothing when the timeout passes or interrupt is called.
	read(timeout time.Duration) ([]Note, error)
	// interrupt makes a read that is waiting return now (or the next
	// one, if none is waiting).
	interrupt()
	// where reports the link count of h's object and, where the system
	// can tell (macOS: F_GETPATH), its absolute path now; "" otherwise.
	where(h Handle) (abs string, nlink uint32, err error)
	// close releases the queue.
	close() error
}

var errUnwatchable = errors.New("kqshim: neither a directory nor a regular file")

const (
	// defaultGrace is how long an object that left its directory for a place
	// not known yet waits for the rest of its notes (a read can fall
	// between the notes one rename(2) posts) before it is taken to have
	// left SOURCE.
	defaultGrace = 10 * time.Millisecond
	// maxBatch bounds the notes translated at once, so that a flood
	// is still reported while it lasts.
	maxBatch = 1 << 16
	// maxDepth guards path walks against a cycle of bad links.
	maxDepth = 4096
)

// node is one object of SOURCE as last seen: a name in its directory.
// Paths are computed from the links when needed, so a moved directory
// carries its contents (and their descriptors) along.

// Run reads the kernel's notes and hands the changes to the sink until
// Close is called.
func (k *Backend) Run() {
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
		flushes = k.s.TakeFlushes(flushes)
		drained, err := k.cycle(k.wait(len(flushes) > 0))
		if k.stopping.Load() {
			return
		}
		if err != nil {
			k.s.Rescan("", "kqueue: "+err.Error())
			return
		}
		k.pollRegions(len(flushes) > 0)
		k.retire()
		// A flush is answered once the queue was found empty after it
		// was asked for, and no object is still waiting for its notes.
		if drained && len(k.parked) == 0 {
			for _, ch := range flushes {
				close(ch)
			}
			flushes = flushes[:0]
		}
	}
}

// wait is how long the next look at the queue may block.
func (k *Backend) wait(flush bool) time.Duration {
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
func (k *Backend) cycle(wait time.Duration) (drained bool, err error) {
	notes, err := k.src.read(wait)
	if err != nil {
		return false, err
	}
	mark := k.s.Mark()
	for len(notes) < maxBatch {
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
		k.queueMark = mark
	}
	return drained, nil
}

// process translates one batch of notes. Notes only say where to look:
// every name reported comes from comparing a directory's listing with
// the one before, so whichever note of a change comes first reports it,
// and the others find nothing left to report.
func (k *Backend) process(notes []Note) {
	touched := k.collect(notes)
	b := newBatch(k)
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
func (k *Backend) collect(notes []Note) []*watch {
	var touched []*watch
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
func (k *Backend) classify(b *batch, w *watch) {
	for _, n := range w.names {
		if n.IsDir() && w.flags&Entries != 0 {
			b.dirty[n] = true
		}
		if w.flags&Gone == 0 {
			continue
		}
		if n == k.root {
			if !k.rootGone {
				k.rootGone = true
				k.s.Rescan("", "SOURCE itself was removed, moved or revoked")
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
func (k *Backend) reportInPlace(w *watch) {
	f := w.flags
	if w.closed || f&(Attrib|Write|Extend) == 0 {
		return
	}
	var n *node
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
	cur, err := k.s.StatRel(rel)
	if err != nil || !same(cur, n.e) {
		return // gone or replaced: the directory's notes say so
	}
	prev := n.e
	n.e = cur
	entries := n.IsDir() && f&Entries != 0
	data := !n.IsDir() && (f&(Write|Extend) != 0 || cur.Size != prev.Size)
	owner := cur.Mode != prev.Mode || cur.UID != prev.UID || cur.GID != prev.GID
	if f&Attrib != 0 && (owner || (!data && !entries)) {
		k.s.AttrChanged(rel)
	}
	if data {
		k.s.DataChanged(rel)
	}
}

// Close stops Run and releases the queue and every descriptor; Run
// returns soon after.
func (k *Backend) Close() error {
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

func (k *Backend) release() error {
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

// Poke makes Run look at its queue (and scan its polled regions) now,
// to answer flushes.
func (k *Backend) Poke() { k.src.interrupt() }

// Stats are the backend's figures (kqshim's KqueueStats).
type Stats struct {
	Watches      int64 // descriptors held: directories and files
	WatchedDirs  int64
	WatchedFiles int64
	MaxWatches   int
	PolledDirs   int64 // beyond the budget, scanned instead
	// PollInterval is set while some directories are polled.
	PollInterval string
}

// Stats reports the backend's figures now.
func (k *Backend) Stats() Stats {
	dirs, files := k.dirs.Load(), k.files.Load()
	st := Stats{Watches: dirs + files, WatchedDirs: dirs, WatchedFiles: files, MaxWatches: k.budget, PolledDirs: k.polled.Load()}
	if st.PolledDirs > 0 {
		st.PollInterval = k.every.String()
	}
	return st
}
