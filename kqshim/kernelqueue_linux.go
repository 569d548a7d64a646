package kqshim

import "golang.org/x/sys/unix"

// kernelQueue is what the fanotify and inotify backends share: the
// kernel's notification descriptor, a descriptor of SOURCE, and the waker
// that interrupts their wait for notes.
type kernelQueue struct {
	fd   int
	root int
	wake *waker
}

func (q *kernelQueue) close() error {
	q.wake.stop()
	return nil
}

func (q *kernelQueue) poke() { q.wake.wake() }

// release closes the descriptors once run has returned.
func (q *kernelQueue) release() {
	if q.fd >= 0 {
		unix.Close(q.fd)
	}
	unix.Close(q.root)
	q.wake.close()
}
