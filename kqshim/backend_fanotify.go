//go:build linux

package kqshim

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/relpath"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// fanotifyBackend watches SOURCE's whole filesystem with one fanotify
// mark (Linux 5.17+, CAP_SYS_ADMIN, a filesystem that can encode file
// handles): no per-directory kernel watch, so start-up and memory do not
// grow with the tree.
//
// # Paths
//
// Each note names its directory by a file handle and the entry by name.
// The handle is opened (open_by_handle_at) and its path read back from
// /proc/self/fd; notes from outside SOURCE are dropped. That path is the
// directory's path when read, after any later rename: each path is taken
// back through the renames later in the batch (place). Directory paths
// are cached for one batch. A directory removed before its
// notes are read can no longer be opened; its path is then found from
// the notes read with it (the rmdir note names the directory's handle
// under its parent), which is why every available note is read before
// any is translated.
//
// # Echoes
//
// Every note carries the pid of the process that made the change. The
// mount's own changes on SOURCE are made by this daemon, so a note with
// our pid is an echo, exactly. The one exception is kernel passthrough:
// the kernel writes the SOURCE file on behalf of the process writing
// through the mount, with that process's pid; the ledger covers those
// (every handle open for writing announces its file for its lifetime).
type fanotifyBackend struct {
	s           *sink
	kernelQueue // root: SOURCE, the mount for open_by_handle_at
	self        int32

	dirs  map[string]string  // directory handle → absolute path
	links map[string]dirLink // directory handle → parent handle and name, learnt from notes

	// Kept across batches (see "Unrelated activity" and "Notes that
	// cannot be placed" in fanotify_place.go): directories known to lie
	// outside SOURCE, and the last path in SOURCE of those inside.
	outside   map[string]bool
	inside    map[string]string
	rescanned map[string]bool // rescans made for unplaced notes, this batch

	buf    []byte
	notes  []fanNote
	places []notePlace

	overflows   atomic.Int64
	foreign     atomic.Int64 // notes from outside SOURCE
	unplaceable atomic.Int64 // notes whose directory could not be placed: rescanned
}

type dirLink struct {
	parent string
	name   string
}

// fanNote is one parsed notification.
type fanNote struct {
	mask uint64
	pid  int32
	dir  string // handle of the directory (DFID_NAME), or the old one of a rename
	name string
	to   string // rename: the new directory's handle
	toNm string
	obj  string // the object's own handle (FID)
}

const fanMask = unix.FAN_CREATE | unix.FAN_DELETE | unix.FAN_RENAME | unix.FAN_ATTRIB |
	unix.FAN_MODIFY | unix.FAN_CLOSE_WRITE | unix.FAN_ONDIR

func openFanotify(s *sink, opts Options) (backend, error) {
	// The kernel's queue keeps its default bound (16384 notes,
	// fs.fanotify.max_queued_events): with an unlimited one, notes piled
	// up in kernel memory without end while the daemon was stopped or
	// slow. Beyond the bound the kernel queues one overflow note, which
	// becomes a rescan of SOURCE.
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK|
		unix.FAN_REPORT_DFID_NAME_TARGET, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("fanotify_init: %w", err)
	}
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, fanMask, unix.AT_FDCWD, s.source); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("fanotify_mark %s: %w", s.source, err)
	}
	// open_by_handle_at wants a real descriptor of the filesystem, not
	// an O_PATH one.
	root, err := unix.Open(s.source, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	// The mark is useless if handles cannot be opened back (a filesystem
	// without export support, or no CAP_DAC_READ_SEARCH).
	if h, _, err := unix.NameToHandleAt(root, "", unix.AT_EMPTY_PATH); err != nil {
		unix.Close(fd)
		unix.Close(root)
		return nil, fmt.Errorf("name_to_handle_at: %w", err)
	} else if hfd, err := unix.OpenByHandleAt(root, h, unix.O_PATH); err != nil {
		unix.Close(fd)
		unix.Close(root)
		return nil, fmt.Errorf("open_by_handle_at: %w", err)
	} else {
		unix.Close(hfd)
	}
	wake, err := newWaker()
	if err != nil {
		unix.Close(fd)
		unix.Close(root)
		return nil, err
	}
	// The daemon's own changes are known by pid; the ledger is for what
	// the kernel does for the mount under another pid.
	s.consult = noteData | noteClosed
	return &fanotifyBackend{
		s: s, kernelQueue: kernelQueue{fd: fd, root: root, wake: wake}, self: int32(os.Getpid()),
		dirs: map[string]string{}, links: map[string]dirLink{}, buf: make([]byte, 256<<10),
		outside: map[string]bool{}, inside: map[string]string{},
	}, nil
}

func (b *fanotifyBackend) run() {
	defer b.release()
	var flushes []chan struct{}
	for {
		flushes = b.s.takeFlushes(flushes)
		mark := b.s.ledger.mark()
		if !b.readAll() {
			return
		}
		if len(b.notes) == 0 {
			b.s.ledger.retire(mark)
			b.s.forgetListed(mark)
			flushes = answer(flushes)
			if b.s.flushWaiting() {
				continue // its poke may have been taken by an earlier wait
			}
			if _, stop := b.wake.wait(b.fd, -1); stop {
				return
			}
			b.s.gather()
			continue
		}
		b.learn()
		b.deleteLast()
		b.forgetOutsideOnDirRename()
		b.place()
		for i := range b.notes {
			b.translate(&b.notes[i], b.places[i])
		}
		b.notes = b.notes[:0]
		clear(b.links)
		clear(b.rescanned)
	}
}

// readAll reads every note available now (up to a bound, so a flood is
// translated in slices). false: the instance failed.
func (b *fanotifyBackend) readAll() bool {
	if fanotifyTestHold != nil {
		fanotifyTestHold()
	}
	for len(b.notes) < 1<<14 {
		n, err := unix.Read(b.fd, b.buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return true
		case err != nil:
			b.s.rescan("", "fanotify read: "+err.Error())
			return false
		}
		b.parse(b.buf[:n])
	}
	return true
}

// parse splits a read into notes (struct fanotify_event_metadata, then
// info records).
func (b *fanotifyBackend) parse(buf []byte) {
	le := binary.NativeEndian
	for len(buf) >= unix.FAN_EVENT_METADATA_LEN {
		evLen := int(le.Uint32(buf[0:]))
		metaLen := int(le.Uint16(buf[6:]))
		if evLen < metaLen || evLen > len(buf) {
			return
		}
		n := fanNote{mask: le.Uint64(buf[8:]), pid: int32(le.Uint32(buf[20:]))}
		if fd := int32(le.Uint32(buf[16:])); fd >= 0 {
			unix.Close(int(fd)) // not asked for; never expected in FID mode
		}
		info := buf[metaLen:evLen]
		for len(info) >= 4 {
			typ, l := info[0], int(le.Uint16(info[2:]))
			if l < 4 || l > len(info) {
				break
			}
			handle, name := parseFid(info[4:l])
			switch typ {
			case unix.FAN_EVENT_INFO_TYPE_DFID_NAME, unix.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, unix.FAN_EVENT_INFO_TYPE_DFID:
				n.dir, n.name = handle, name
			case unix.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
				n.to, n.toNm = handle, name
			case unix.FAN_EVENT_INFO_TYPE_FID:
				n.obj = handle
			}
			info = info[l:]
		}
		b.notes = append(b.notes, n)
		buf = buf[evLen:]
	}
}

// parseFid reads fsid, struct file_handle and the optional name; the
// handle is returned as a map key: type then bytes.
func parseFid(b []byte) (handle, name string) {
	le := binary.NativeEndian
	if len(b) < 16 {
		return "", ""
	}
	b = b[8:] // fsid: one filesystem per mark
	size := int(le.Uint32(b[0:]))
	if 8+size > len(b) {
		return "", ""
	}
	handle = string(b[4 : 8+size])
	rest := b[8+size:]
	for i, c := range rest {
		if c == 0 {
			return handle, string(rest[:i])
		}
	}
	return handle, ""
}

// learn records, from the notes about directories, which handle is which
// name in which directory: the only way to place the notes about a
// directory that is gone by the time they are read.
func (b *fanotifyBackend) learn() {
	for _, n := range b.notes {
		if n.mask&unix.FAN_ONDIR == 0 || n.obj == "" || n.pid == b.self {
			continue
		}
		if n.to != "" {
			b.links[n.obj] = dirLink{parent: n.to, name: n.toNm}
		} else if n.dir != "" && n.name != "" && n.name != "." {
			if _, ok := b.links[n.obj]; !ok {
				b.links[n.obj] = dirLink{parent: n.dir, name: n.name}
			}
		}
	}
}

// deleteLast keeps a removal after everything else said about the object.
// The kernel merges a note into an earlier one about the same object
// that is still queued, so a removal can ride on a note that comes
// before other notes of changes made before it; it is moved to the last
// note of the batch about the same object, name and process.
func (b *fanotifyBackend) deleteLast() {
	for i := range b.notes {
		n := &b.notes[i]
		if n.mask&unix.FAN_DELETE == 0 || n.mask&unix.FAN_RENAME != 0 || n.obj == "" {
			continue
		}
		last := i
		for j := i + 1; j < len(b.notes); j++ {
			m := &b.notes[j]
			if m.obj == n.obj && m.dir == n.dir && m.name == n.name && m.pid == n.pid && m.mask&unix.FAN_RENAME == 0 {
				last = j
			}
		}
		if last != i {
			n.mask &^= unix.FAN_DELETE
			b.notes[last].mask |= unix.FAN_DELETE
		}
	}
}

// path finds a directory's absolute path from its handle.
func (b *fanotifyBackend) path(handle string, depth int) (string, bool) {
	if p, ok := b.dirs[handle]; ok {
		return p, true
	}
	if b.outside[handle] {
		return outsidePath, true // no system call for unrelated activity
	}
	if len(handle) < 4 || depth > 64 {
		return "", false
	}
	fh := unix.NewFileHandle(int32(binary.NativeEndian.Uint32([]byte(handle[:4]))), []byte(handle[4:]))
	if fd, err := unix.OpenByHandleAt(b.root, fh, unix.O_PATH); err == nil {
		p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
		unix.Close(fd)
		// A removed directory still open somewhere reads "/x/d (deleted)":
		// no path; the notes read with it may still place it.
		if err == nil && p != "" && p[0] == '/' && !strings.HasSuffix(p, " (deleted)") {
			b.dirs[handle] = p
			b.classify(handle, p)
			return p, true
		}
	}
	if l, ok := b.links[handle]; ok {
		if parent, ok := b.path(l.parent, depth+1); ok {
			return parent + "/" + l.name, true
		}
	}
	return "", false
}

// renameUndo takes a path as it is now back to before one rename: what
// is at now (or below it) was at then.
type renameUndo struct{ now, then string }

// place works out where each note of the batch happened. A directory's
// handle only gives its path as it is when read, after every later
// rename: a note about a file made outside SOURCE, in a directory moved
// into SOURCE since, would otherwise look like a change inside it. So
// the batch is walked backwards, and each path is taken back through the
// renames that followed its note (the mount's own included).
func (b *fanotifyBackend) place() {
	clear(b.dirs) // paths are read afresh for each batch: renames since
	b.places = b.places[:0]
	b.places = append(b.places, make([]notePlace, len(b.notes))...)
	var later []renameUndo // most recent first
	for i := len(b.notes) - 1; i >= 0; i-- {
		n := &b.notes[i]
		pl := &b.places[i]
		pl.from = b.fullAt(n.dir, n.name, later)
		if n.mask&unix.FAN_RENAME != 0 {
			pl.to = b.fullAt(n.to, n.toNm, later)
			if pl.from != "" && pl.to != "" {
				later = append(later, renameUndo{now: pl.to, then: pl.from})
			}
		}
	}
}

// notePlace: the absolute paths a note is about at the time it happened
// (from: the only one, or a rename's old one; to: a rename's new one;
// "" where the handle could not be placed).
type notePlace struct{ from, to string }

// fullAt is the absolute path of (directory handle, name) before the
// renames in later.
func (b *fanotifyBackend) fullAt(handle, name string, later []renameUndo) string {
	dir, ok := b.path(handle, 0)
	if !ok {
		return ""
	}
	// Only the directory's path is read now; the name is the note's own.
	for _, u := range later {
		if relpath.Under(dir, u.now) {
			dir = u.then + dir[len(u.now):]
		}
	}
	if name == "" || name == "." {
		return dir
	}
	// Joined before any check: SOURCE itself is named in its parent.
	return strings.TrimSuffix(dir, "/") + "/" + name
}

// relOf places an absolute path in SOURCE.
func (b *fanotifyBackend) relOf(full string) (string, bool) {
	if full == "" {
		return "", false
	}
	return b.s.rel(full)
}

// translate hands one note, placed at pl, to the sink.
func (b *fanotifyBackend) translate(n *fanNote, pl notePlace) {
	if n.mask&unix.FAN_Q_OVERFLOW != 0 {
		b.overflows.Add(1)
		b.s.rescan("", "fanotify queue overflow")
		return
	}
	isDir := n.mask&unix.FAN_ONDIR != 0
	if n.pid == b.self {
		return // the mount's own change, made by this daemon
	}
	b.s.actor = n.pid
	defer func() { b.s.actor = 0 }()

	if n.mask&unix.FAN_RENAME != 0 {
		from, fromIn := b.relOf(pl.from)
		to, toIn := b.relOf(pl.to)
		switch {
		case fromIn && toIn:
			b.s.renamed(from, to, false)
		case toIn && isDir:
			b.s.createdTree(to, true) // its contents came with it, unannounced
		case toIn:
			b.s.noteCreated(to, false, true)
		case fromIn:
			b.s.removed(from, isDir, true)
		case pl.from == "" || pl.to == "":
			b.unplaced(n)
		default:
			b.foreign.Add(1)
		}
		return
	}
	rel, in := b.relOf(pl.from)
	if !in {
		if pl.from == "" {
			b.unplaced(n)
		} else {
			b.foreign.Add(1)
		}
		return
	}
	if isDir && n.obj != "" && n.mask&unix.FAN_DELETE == 0 {
		b.remember(n.obj, rel)
	}
	// The kernel merges notes about one object that are not read yet,
	// so one note can say "created, written, closed, removed": reported
	// in that order, each once (a note names one object: with the
	// object's own handle in the note, notes of two objects that had the
	// same name never merge).
	// Data and close notes of another pid are asked of the ledger
	// (passthrough writes and the backing file's close are the mount's
	// under the writer's pid). The name is read when the note is, which
	// may be after the mount renamed or exchanged it: the object's own
	// handle says which object it really is.
	if n.mask&(unix.FAN_MODIFY|unix.FAN_CLOSE_WRITE) != 0 {
		n.mask &^= b.ownByIdentity(n, rel)
	}
	if n.mask&unix.FAN_CREATE != 0 {
		b.s.noteCreated(rel, isDir, false)
	}
	if n.mask&unix.FAN_MODIFY != 0 {
		b.s.dataChanged(rel)
	}
	if n.mask&unix.FAN_ATTRIB != 0 {
		b.s.attrChanged(rel)
	}
	if n.mask&unix.FAN_CLOSE_WRITE != 0 {
		b.s.closedWrite(rel)
	}
	if n.mask&unix.FAN_DELETE != 0 {
		b.s.removed(rel, isDir, false)
	}
}

// ownByIdentity returns the bits of n's FAN_MODIFY and FAN_CLOSE_WRITE
// that are echoes of the mount's own changes to the object n's own
// handle names (0 if the object cannot be opened any more: the note is
// then judged by its name, as for other notes).
func (b *fanotifyBackend) ownByIdentity(n *fanNote, rel string) uint64 {
	if len(n.obj) < 4 {
		return 0
	}
	fh := unix.NewFileHandle(int32(binary.NativeEndian.Uint32([]byte(n.obj[:4]))), []byte(n.obj[4:]))
	fd, err := unix.OpenByHandleAt(b.root, fh, unix.O_PATH)
	if err != nil {
		return 0
	}
	e, err := fsobj.StatAt(fd, "")
	unix.Close(fd)
	if err != nil {
		return 0
	}
	var own uint64
	if n.mask&unix.FAN_MODIFY != 0 && b.s.echoOf(noteData, rel, e) {
		own |= unix.FAN_MODIFY
	}
	if n.mask&unix.FAN_CLOSE_WRITE != 0 && b.s.echoOf(noteClosed, rel, e) {
		own |= unix.FAN_CLOSE_WRITE
	}
	return own
}

func (b *fanotifyBackend) stats() any {
	return FanotifyStats{Mark: "filesystem", Overflows: b.overflows.Load(), NotesOutsideSource: b.foreign.Load(), NotesUnplaceable: b.unplaceable.Load()}
}
