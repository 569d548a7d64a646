//go:build linux

package kqshim

import (
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/relpath"
)

// # Unrelated activity
//
// The mark covers SOURCE's whole filesystem: fanotify's directory-entry
// notes (create, delete, rename) cannot be had from a mount mark, and
// inode marks on every directory would make start-up and kernel memory
// grow with the tree, as inotify's watches do. So every change anywhere
// on the filesystem reaches the daemon. What made that expensive was
// placing each note: open_by_handle_at and a readlink of /proc/self/fd
// per directory per batch (about 15 µs of daemon CPU per unrelated
// operation). Directories found outside SOURCE are now remembered by
// handle across batches, so a note from one costs a map lookup; the
// figures are in docs/operations.md.
//
// A directory can only come into SOURCE by a rename, which the mark
// sees: a batch holding a directory rename forgets every directory
// remembered outside before it is placed (handles are never reused, so
// nothing else can make an entry wrong). Directories that are ancestors
// of SOURCE are never remembered: SOURCE itself is named in its parent.
//
// # Notes that cannot be placed
//
// A note whose directory is gone by the time it is read, and whose
// removal is not in the same batch, names a directory nobody can open.
// It used to be dropped as if it were outside SOURCE. Directories seen
// inside SOURCE (placed once, or created while watched) are remembered
// with their last path, so such a note becomes a rescan of that path's
// parent, the smallest ancestor known to be there. A directory never
// seen in SOURCE is taken to be outside: on a shared filesystem most
// such notes are other programs' short-lived directories, and a rescan
// of SOURCE for each would be the very cost of unrelated activity this
// backend avoids. The residual case is a directory that existed before
// the daemon started, was never touched since, and is removed with its
// contents across two reads of the queue; it is documented.
// Both maps are bounded; when one fills it starts over, which costs
// lookups (outside) or a broader rescan (inside), never an event.

// outsidePath stands for "a directory outside SOURCE": it is no absolute
// path, so nothing under it is ever placed in SOURCE.
const outsidePath = "\x00outside"

// placeMemory bounds the outside and inside maps.
const placeMemory = 1 << 16

// fanotifyTestHold, if set, is called before each read of the queue (a
// test holds the reader back to let the kernel's queue overflow).
var fanotifyTestHold func()

// classify remembers on which side of SOURCE a directory read at p lies.
func (b *fanotifyBackend) classify(handle, p string) {
	if rel, in := b.s.rel(p); in {
		b.remember(handle, rel)
		return
	}
	if p == "/" || relpath.Under(b.s.source, p) {
		return // an ancestor of SOURCE
	}
	if len(b.outside) >= placeMemory {
		clear(b.outside)
	}
	b.outside[handle] = true
}

// remember records a directory's path in SOURCE.
func (b *fanotifyBackend) remember(handle, rel string) {
	if len(b.inside) >= placeMemory {
		clear(b.inside)
	}
	b.inside[handle] = rel
}

// forgetOutsideOnDirRename drops what is remembered outside SOURCE when
// the batch moves a directory: it may have come in.
func (b *fanotifyBackend) forgetOutsideOnDirRename() {
	for _, n := range b.notes {
		if n.mask&unix.FAN_RENAME != 0 && n.mask&unix.FAN_ONDIR != 0 {
			clear(b.outside)
			return
		}
	}
}

// unplaced turns a note that cannot be placed into a rescan of the
// smallest ancestor known to contain it.
func (b *fanotifyBackend) unplaced(n *fanNote) {
	for _, h := range []string{n.dir, n.to} {
		if h != "" && b.outside[h] {
			b.foreign.Add(1)
			return
		}
	}
	for _, h := range []string{n.dir, n.to} {
		rel, ok := b.inside[h]
		if !ok {
			continue
		}
		b.unplaceable.Add(1)
		// One rescan per place and batch: a removed tree yields many.
		at := relpath.Dir(rel)
		if b.rescanned == nil {
			b.rescanned = map[string]bool{}
		}
		if !b.rescanned[at] {
			b.rescanned[at] = true
			b.s.rescan(at, "a note in a directory that is gone")
		}
		return
	}
	// Never seen in SOURCE: on a busy filesystem, nearly always a
	// short-lived directory elsewhere (a build's temporary ones).
	// Rescanning SOURCE for each would make unrelated activity cost a
	// full scan; see the residual case in docs/operations.md.
	b.foreign.Add(1)
}
