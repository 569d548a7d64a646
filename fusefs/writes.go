package fusefs

import (
	"context"
	"syscall"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// How writes become events
//
// A write request (no passthrough) is reported at once if the handle has
// not reported within WriteInterval; otherwise it is folded into a
// pending count that the next report carries. Under passthrough the
// kernel writes SOURCE itself and no request arrives: the handle compares
// the file's size and mtime against a baseline instead. Either way a
// report happens at flush (every close), fsync, release, before any other
// event on the same node (so per-path order holds), and every
// WriteInterval from FS.reportWritesEvery.

// markRequests records, before the data moves, that this handle gets
// write requests: it is not under passthrough, so the size/mtime check
// must never report for it (the periodic check could otherwise see the
// write before wrote counts it, and report it twice).
func (h *fileHandle) markRequests() {
	h.mu.Lock()
	h.requests = true
	h.mu.Unlock()
}

// wrote records a write request (or fallocate) that just succeeded; the
// caller has called markRequests before making it.
func (h *fileHandle) wrote(ctx context.Context) {
	w := h.node.fsys.callers.of(ctx)
	if w.pid == 0 {
		w = h.opener // the kernel writing back a shared mapping
	}
	interval := h.node.fsys.opts.WriteInterval
	h.mu.Lock()
	h.closing = false // written after a flush: still open
	h.pending++
	h.lastWho = w
	due := interval == 0 || time.Since(h.reported) >= interval
	h.mu.Unlock()
	if due {
		defer h.node.fsys.names.lockShared()()
		h.report(w)
	}
}

// report publishes one write event for what this handle wrote since its
// last report, if anything. It returns the file's current attributes.
func (h *fileHandle) report(w who) (st syscall.Stat_t, ok bool) {
	h.mu.Lock()
	if _, err := statAt(h.fd, "", &st); err != nil {
		h.mu.Unlock()
		return st, false
	}
	var count uint32
	switch {
	case h.pending > 0:
		count = h.pending
		if h.lastWho.pid != 0 {
			w = h.lastWho
		}
	case !h.requests && h.node.fsys.mayPassthrough() && (st.Size != h.baseSize || mtimeOf(&st) != h.baseMtime):
		count = 1 // passthrough: the file changed under this handle
	}
	h.pending = 0
	h.baseSize, h.baseMtime = st.Size, mtimeOf(&st)
	if count == 0 {
		h.mu.Unlock()
		return st, true
	}
	h.reported = time.Now()
	if w.pid == 0 {
		w = h.opener
	}
	ev := withAttr(newEvent(eventbus.Write, h.currentPathLocked(), w), &st)
	ev.Count = count
	h.node.fsys.publish(ev)
	h.mu.Unlock()
	// Other handles of the same file saw the same change; it is reported.
	h.node.fsys.rebaseWriters(h.node, &st)
	return st, true
}

// reportPending reports for another goroutine than the handle's own
// requests (at shutdown, before a change to the file), attributed to the
// opener; nothing if the handle is being released.
func (h *fileHandle) reportPending() {
	if h.acquire() {
		h.report(h.opener)
		h.unpin()
	}
}

// reportIfDue is the periodic check of a handle that stays open.
func (h *fileHandle) reportIfDue(interval time.Duration) {
	defer h.node.fsys.names.lockShared()()
	h.mu.Lock()
	due := time.Since(h.reported) >= interval && (h.pending > 0 || (!h.requests && h.node.fsys.mayPassthrough()))
	h.mu.Unlock()
	if due {
		h.reportPending()
	}
}

// releaseWait bounds how long a change waits for the RELEASE of a handle
// that was just closed (see awaitReleases).
const releaseWait = 100 * time.Millisecond

// reportPendingWrites reports the writes of every open handle of n, so
// that they come before the event about to be published for n, and
// waits for the close_write of handles that are being released.
func (f *FS) reportPendingWrites(n *Node) {
	for _, h := range f.writersOf(n) {
		h.reportPending()
	}
	f.awaitClosing(n)
}

// awaitClosing waits (bounded) for the release of n's handles that were
// closed and not used since, so that what comes next for n — an event, a
// new open whose writes will be reported, a remove — comes after their
// close_write, and after SOURCE has seen them closed (a network SOURCE
// hides a file removed while open instead of removing it).
func (f *FS) awaitClosing(n *Node) {
	var closing []*fileHandle
	for _, h := range f.handlesOf(n) {
		h.mu.Lock()
		if h.closing {
			closing = append(closing, h)
		}
		h.mu.Unlock()
	}
	awaitReleases(closing)
}

// awaitReleases keeps per-path order across close(2). The kernel sends
// RELEASE (where close_write is published) after close has returned and
// without waiting for it, so a rename made right after a close can reach
// the daemon first and overtake it — "write tmp, close, rename" would
// read create, write, rename, close_write. A handle that was flushed and
// not used since is most likely being released: wait for that, bounded,
// because a descriptor still open elsewhere (a dup, a fork) keeps the
// handle alive and then no RELEASE comes.
func awaitReleases(hs []*fileHandle) {
	if len(hs) == 0 {
		return
	}
	timeout := time.NewTimer(releaseWait)
	defer timeout.Stop()
	for i, h := range hs {
		select {
		case <-h.released:
		case <-timeout.C:
			// Not released by now: what was closed was another
			// descriptor of the handle (a dup, or the copy a fork
			// closes at exec), and the handle is still open. Nothing
			// waits for these again until they are flushed again —
			// else every change to the file would wait this long.
			for _, h := range hs[i:] {
				h.mu.Lock()
				h.closing = false
				h.mu.Unlock()
			}
			return
		}
	}
}

// rebaseWriters moves the passthrough baseline of n's handles to st after
// a change to n that has already been reported.
func (f *FS) rebaseWriters(n *Node, st *syscall.Stat_t) {
	for _, h := range f.writersOf(n) {
		h.mu.Lock()
		h.baseSize, h.baseMtime = st.Size, mtimeOf(st)
		h.mu.Unlock()
	}
}

// reportPendingWritesLocked is reportPendingWrites for an operation that
// does not hold the name lock yet.
func (f *FS) reportPendingWritesLocked(n *Node) {
	defer f.names.lockShared()()
	f.reportPendingWrites(n)
}
