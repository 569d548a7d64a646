package kqshim

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// waker lets close (and flushes) interrupt a backend blocked in poll(2)
// or kevent(2): the read end becomes readable.
type waker struct {
	r, w     int
	stopping atomic.Bool
}

func newWaker() (*waker, error) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return nil, fmt.Errorf("kqshim: pipe: %w", err)
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	unix.SetNonblock(p[1], true)
	return &waker{r: p[0], w: p[1]}, nil
}

// wake interrupts a wait; the waiter looks at its queue again.
func (w *waker) wake() { unix.Write(w.w, []byte{0}) }

// stop interrupts a wait for good.
func (w *waker) stop() {
	w.stopping.Store(true)
	w.wake()
}

func (w *waker) close() {
	unix.Close(w.r)
	unix.Close(w.w)
}

// wait blocks until fd is readable, the waker fired, or timeoutMs passed
// (< 0: no limit). stop: the backend must return.
func (w *waker) wait(fd int, timeoutMs int) (readable, stop bool) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(w.r), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, timeoutMs)
		if err == unix.EINTR {
			continue
		}
		if fds[1].Revents != 0 {
			var b [64]byte
			unix.Read(w.r, b[:])
		}
		return fds[0].Revents != 0, w.stopping.Load()
	}
}
