//go:build darwin || freebsd

package kqueue

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// vnodeNotes are the notes asked for on every descriptor.
const vnodeNotes = unix.NOTE_DELETE | unix.NOTE_WRITE | unix.NOTE_EXTEND | unix.NOTE_ATTRIB |
	unix.NOTE_LINK | unix.NOTE_RENAME | unix.NOTE_REVOKE

// interruptIdent is the ident of the EVFILT_USER event that interrupt
// triggers (a separate namespace from the descriptors' EVFILT_VNODE).
const interruptIdent = 1

// maxBudget caps the default descriptor budget when the descriptor
// limit is unlimited.
const maxBudget = 1 << 20

// Open starts the kqueue backend over the kernel's queue: polled regions
// (beyond the budget) are scanned every interval; maxWatches is the
// descriptor budget (0: half the soft descriptor limit).
func Open(s Sink, every time.Duration, maxWatches int) (*Backend, error) {
	src, err := newKernelSource()
	if err != nil {
		return nil, err
	}
	k := newBackend(s, src, every, budget(maxWatches))
	if err := k.start(); err != nil {
		k.release()
		return nil, err
	}
	return k, nil
}

// budget is the descriptor budget: maxWatches, or half the soft
// descriptor limit, leaving the rest to the mount and its clients.
func budget(maxWatches int) int {
	if maxWatches > 0 {
		return maxWatches
	}
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &r); err != nil || r.Cur <= 0 {
		return 512
	}
	return int(min(uint64(r.Cur)/2, maxBudget))
}

// kernelSource is the kernel side: one kqueue, a descriptor per watched
// object, the descriptor number as its handle.
type kernelSource struct {
	kq  int
	buf []unix.Kevent_t
}

func newKernelSource() (*kernelSource, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("kqueue: %w", err)
	}
	unix.CloseOnExec(kq)
	ev := unix.Kevent_t{}
	unix.SetKevent(&ev, interruptIdent, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	if err := register(kq, ev); err != nil {
		unix.Close(kq)
		return nil, fmt.Errorf("kqueue: EVFILT_USER: %w", err)
	}
	return &kernelSource{kq: kq, buf: make([]unix.Kevent_t, 512)}, nil
}

func register(kq int, ev unix.Kevent_t) error {
	for {
		_, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

func (q *kernelSource) open(dir Handle, name string) (Handle, fsobj.Entry, error) {
	flags := openMode | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	fd, err := openAt(dir, name, flags)
	if err != nil {
		return NoHandle, fsobj.Entry{}, fmt.Errorf("open %s: %w", name, err)
	}
	e, err := fstat(fd)
	if err == nil && !watchable(e) {
		err = errUnwatchable
	}
	if err == nil {
		ev := unix.Kevent_t{}
		unix.SetKevent(&ev, fd, unix.EVFILT_VNODE, unix.EV_ADD|unix.EV_CLEAR)
		ev.Fflags = vnodeNotes
		if err = register(q.kq, ev); err != nil {
			err = fmt.Errorf("kevent: %w", err)
		}
	}
	if err != nil {
		unix.Close(fd)
		return NoHandle, fsobj.Entry{}, err
	}
	return Handle(fd), e, nil
}

// openAt opens name beneath the directory dir, or the root directory at
// the absolute path name.
func openAt(dir Handle, name string, flags int) (int, error) {
	for {
		var fd int
		var err error
		if dir == NoHandle {
			fd, err = unix.Open(name, flags|unix.O_DIRECTORY, 0)
		} else {
			fd, err = unix.Openat(int(dir), name, flags, 0)
		}
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func fstat(fd int) (fsobj.Entry, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fsobj.Entry{}, fmt.Errorf("fstat: %w", err)
	}
	return fsobj.OfStat(&st), nil
}

// forget closes the descriptor, which takes its knote (and any of its
// notes still queued) out of the kqueue.
func (q *kernelSource) forget(h Handle) { unix.Close(int(h)) }

func (q *kernelSource) read(timeout time.Duration) ([]Note, error) {
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
	notes := make([]Note, 0, n)
	for _, ev := range q.buf[:n] {
		if ev.Filter != unix.EVFILT_VNODE || ev.Flags&unix.EV_ERROR != 0 {
			continue // the interrupt, or a knote the kernel dropped
		}
		notes = append(notes, Note{h: Handle(ev.Ident), flags: flagsOf(ev.Fflags)})
	}
	return notes, nil
}

func flagsOf(ff uint32) Flags {
	var f Flags
	for _, m := range []struct {
		note uint32
		flag Flags
	}{
		{unix.NOTE_DELETE, Delete}, {unix.NOTE_WRITE, Write}, {unix.NOTE_EXTEND, Extend},
		{unix.NOTE_ATTRIB, Attrib}, {unix.NOTE_LINK, Link}, {unix.NOTE_RENAME, Rename},
		{unix.NOTE_REVOKE, Revoke},
	} {
		if ff&m.note != 0 {
			f |= m.flag
		}
	}
	return f
}

// interrupt triggers the EVFILT_USER event: a kevent waiting returns,
// or the next one does (the trigger stays until it is read).
func (q *kernelSource) interrupt() {
	ev := unix.Kevent_t{}
	unix.SetKevent(&ev, interruptIdent, unix.EVFILT_USER, 0)
	ev.Fflags = unix.NOTE_TRIGGER
	register(q.kq, ev)
}

func (q *kernelSource) where(h Handle) (string, uint32, error) {
	e, err := fstat(int(h))
	if err != nil {
		return "", 0, err
	}
	return pathOf(int(h)), e.Nlink, nil
}

func (q *kernelSource) close() error { return unix.Close(q.kq) }
