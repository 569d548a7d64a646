//go:build darwin || freebsd

package kqshim

// The kqueue backend (macOS, FreeBSD), in the manner of Mono's
// KeventWatcher.
//
// # One descriptor per vnode
//
// kqueue has no recursive watch: EVFILT_VNODE notes are about one open
// vnode. So every directory and every regular file of SOURCE gets a
// descriptor (O_EVTONLY on macOS, which does not keep a volume from
// unmounting; O_RDONLY on FreeBSD), opened with openat beneath its
// directory's descriptor and O_NOFOLLOW, so that a watch never leaves
// SOURCE through a symlink. Each is registered with EV_ADD|EV_CLEAR for
// NOTE_DELETE, WRITE, EXTEND, ATTRIB, LINK, RENAME and REVOKE. Symlinks,
// fifos, sockets and devices get none (their changes show in their
// directory's listing).
//
// # Directory writes: rescan and diff
//
// A note says which vnode, never which name. NOTE_WRITE (or EXTEND, LINK)
// on a directory means "list me again": the listing (readdir and a stat
// of each entry) is compared with the previous one. A name gone is a
// departure, a new name an arrival, and an object (known by inode number
// and birth time) that departed and arrived is a rename. NOTE_RENAME,
// DELETE and REVOKE on an object send the translation to its directory's
// listing too; where it went is asked of its descriptor: the link count
// (0: deleted) and, on macOS, F_GETPATH, whose directory is then listed.
// FreeBSD has no path to give: the destination directory's own note finds
// the object, and one that no listing finds within a short grace left
// SOURCE.
//
// So no note reports a change by itself: the listing that completes it
// does (for a rename between directories, the second of the two), whichever
// note caused that listing, and the tree is updated as it is reported.
// The change's other notes then find the listings as the tree has them
// and report nothing. That makes every name reported once, whichever
// note comes first and however the notes are split between reads and
// drains (kqueue_notes.go, kqueue_tree.go, kqueue_batch.go and
// kqueue_regions.go have the translation, with no build tag, and
// kqueue_notes_test.go its tests). Data and attribute notes (WRITE, EXTEND, ATTRIB on a file;
// ATTRIB on a directory) are reported under the object's name once the
// names of the batch are settled.
//
// # Descriptor budget
//
// Descriptors are held within Options.MaxWatches (default: half the soft
// RLIMIT_NOFILE, which Go raises to the hard limit at start). A
// directory whose entries cannot all have one is handed over to polling:
// its descriptors are closed, a rescan event tells subscribers to re-read
// it, and its subtree is scanned and diffed every poll interval.
//
// # Echo suppression
//
// The sink's helpers check each change against the mount's announcements
// (the Ledger); polled regions use the same matching as the poll backend
// (sink.inferredEcho). The
// ledger is marked after each wait for notes and retired once kevent with
// a zero timeout has found the queue empty (and every polled region has
// been scanned since the mark), so an announcement stands until every
// note its change queued has been read.

import (
	"fmt"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
	"time"

	"golang.org/x/sys/unix"
)

// kqVnodeNotes are the notes asked for on every descriptor.
const kqVnodeNotes = unix.NOTE_DELETE | unix.NOTE_WRITE | unix.NOTE_EXTEND | unix.NOTE_ATTRIB |
	unix.NOTE_LINK | unix.NOTE_RENAME | unix.NOTE_REVOKE

// kqInterrupt is the ident of the EVFILT_USER event that interrupt
// triggers (a separate namespace from the descriptors' EVFILT_VNODE).
const kqInterrupt = 1

// kqMaxBudget caps the default descriptor budget when the descriptor
// limit is unlimited.
const kqMaxBudget = 1 << 20

func openKqueue(s *sink, opts Options) (backend, error) {
	src, err := newKqueueSource()
	if err != nil {
		return nil, err
	}
	k := newKqBackend(s, src, opts, kqBudget(opts))
	if err := k.start(); err != nil {
		k.release()
		return nil, err
	}
	return k, nil
}

// kqBudget is the descriptor budget: Options.MaxWatches, or half the soft
// descriptor limit, leaving the rest to the mount and its clients.
func kqBudget(opts Options) int {
	if opts.MaxWatches > 0 {
		return opts.MaxWatches
	}
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil || r.Cur <= 0 {
		return 512
	}
	return int(min(uint64(r.Cur)/2, kqMaxBudget))
}

// kqueueSource is the kernel side: one kqueue, a descriptor per watched
// object, the descriptor number as its handle.
type kqueueSource struct {
	kq  int
	buf []unix.Kevent_t
}

func newKqueueSource() (*kqueueSource, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("kqueue: %w", err)
	}
	unix.CloseOnExec(kq)
	ev := unix.Kevent_t{}
	unix.SetKevent(&ev, kqInterrupt, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	if err := kqRegister(kq, ev); err != nil {
		unix.Close(kq)
		return nil, fmt.Errorf("kqueue: EVFILT_USER: %w", err)
	}
	return &kqueueSource{kq: kq, buf: make([]unix.Kevent_t, 512)}, nil
}

func kqRegister(kq int, ev unix.Kevent_t) error {
	for {
		_, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

func (q *kqueueSource) open(dir kqHandle, name string) (kqHandle, entry, error) {
	flags := kqOpenMode | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	fd, err := kqOpenAt(dir, name, flags)
	if err != nil {
		return kqNoHandle, entry{}, fmt.Errorf("open %s: %w", name, err)
	}
	e, err := kqFstat(fd)
	if err == nil && !kqWatchable(e) {
		err = errKqUnwatchable
	}
	if err == nil {
		ev := unix.Kevent_t{}
		unix.SetKevent(&ev, fd, unix.EVFILT_VNODE, unix.EV_ADD|unix.EV_CLEAR)
		ev.Fflags = kqVnodeNotes
		if err = kqRegister(q.kq, ev); err != nil {
			err = fmt.Errorf("kevent: %w", err)
		}
	}
	if err != nil {
		unix.Close(fd)
		return kqNoHandle, entry{}, err
	}
	return kqHandle(fd), e, nil
}

// kqOpenAt opens name beneath the directory dir, or the root directory at
// the absolute path name.
func kqOpenAt(dir kqHandle, name string, flags int) (int, error) {
	for {
		var fd int
		var err error
		if dir == kqNoHandle {
			fd, err = unix.Open(name, flags|unix.O_DIRECTORY, 0)
		} else {
			fd, err = unix.Openat(int(dir), name, flags, 0)
		}
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func kqFstat(fd int) (entry, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return entry{}, fmt.Errorf("fstat: %w", err)
	}
	return fsobj.OfStat(&st), nil
}

// forget closes the descriptor, which takes its knote (and any of its
// notes still queued) out of the kqueue.
func (q *kqueueSource) forget(h kqHandle) { unix.Close(int(h)) }

func (q *kqueueSource) read(timeout time.Duration) ([]kqNote, error) {
	var ts *unix.Timespec
	if timeout >= 0 {
		t := unix.NsecToTimespec(int64(timeout))
		ts = &t
	}
	n, err := unix.Kevent(q.kq, nil, q.buf, ts)
	if err == unix.EINTR {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kevent: %w", err)
	}
	notes := make([]kqNote, 0, n)
	for _, ev := range q.buf[:n] {
		if ev.Filter != unix.EVFILT_VNODE || ev.Flags&unix.EV_ERROR != 0 {
			continue // the interrupt, or a knote the kernel dropped
		}
		notes = append(notes, kqNote{h: kqHandle(ev.Ident), flags: kqFlagsOf(ev.Fflags)})
	}
	return notes, nil
}

func kqFlagsOf(ff uint32) kqFlags {
	var f kqFlags
	for _, m := range []struct {
		note uint32
		flag kqFlags
	}{
		{unix.NOTE_DELETE, kqDelete}, {unix.NOTE_WRITE, kqWrite}, {unix.NOTE_EXTEND, kqExtend},
		{unix.NOTE_ATTRIB, kqAttrib}, {unix.NOTE_LINK, kqLink}, {unix.NOTE_RENAME, kqRename},
		{unix.NOTE_REVOKE, kqRevoke},
	} {
		if ff&m.note != 0 {
			f |= m.flag
		}
	}
	return f
}

// interrupt triggers the EVFILT_USER event: a kevent waiting returns,
// or the next one does (the trigger stays until it is read).
func (q *kqueueSource) interrupt() {
	ev := unix.Kevent_t{}
	unix.SetKevent(&ev, kqInterrupt, unix.EVFILT_USER, 0)
	ev.Fflags = unix.NOTE_TRIGGER
	kqRegister(q.kq, ev)
}

func (q *kqueueSource) where(h kqHandle) (string, uint32, error) {
	e, err := kqFstat(int(h))
	if err != nil {
		return "", 0, err
	}
	return kqPathOf(int(h)), e.Nlink, nil
}

func (q *kqueueSource) close() error { return unix.Close(q.kq) }
