package fusefs

import (
	"context"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// fileHandle is one open file: a descriptor of the SOURCE file, plus the
// bookkeeping that turns the writes made through it into events.
type fileHandle struct {
	node     *Node
	file     *os.File // owns fd; kept so the fd stays valid for passthrough
	fd       int
	writable bool
	opener   who    // attribution for writes the kernel makes on its own
	uid      uint32 // whose handle budget it counts against
	// creds are the opener's: what the kernel does on the handle on no
	// process's behalf (writing back a shared mapping) is done as her.
	creds creds

	mu sync.Mutex
	// path is the last known path, for reports after the name is gone.
	path string
	// requests: write requests arrived, so this handle is not under
	// kernel passthrough and pending counts them.
	requests bool
	pending  uint32
	lastWho  who
	reported time.Time
	// Baseline to detect passthrough writes, which never reach us.
	baseSize  int64
	baseMtime int64
	// closing: flushed (a close(2)) and not used since, so a RELEASE may
	// be on its way; released is closed once Release has published and
	// closed the descriptors.
	closing  bool
	released chan struct{}
	// gone: Release has begun closing the fd; users from other goroutines
	// (reports, a SETATTR on the unlinked file) hold inUse meanwhile so
	// that the fd is never closed — and its number reused for another
	// file — under them.
	gone  bool
	inUse sync.WaitGroup
	// backing is the read-only descriptor offered for passthrough.
	backing *os.File

	// unannounce ends what a writable handle announced to the watcher of
	// SOURCE for its whole life (see announceLife).
	unannounce func()
}

// acquire pins the fd for use outside a FUSE request on this handle;
// false if the handle is being released.
func (h *fileHandle) acquire() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gone {
		return false
	}
	h.inUse.Add(1)
	return true
}

func (h *fileHandle) unpin() { h.inUse.Done() }

var (
	_ = (fs.FileReader)((*fileHandle)(nil))
	_ = (fs.FileWriter)((*fileHandle)(nil))
	_ = (fs.FileFlusher)((*fileHandle)(nil))
	_ = (fs.FileFsyncer)((*fileHandle)(nil))
	_ = (fs.FileReleaser)((*fileHandle)(nil))
	_ = (fs.FileGetattrer)((*fileHandle)(nil))
	_ = (fs.FileLseeker)((*fileHandle)(nil))
	_ = (fs.FileAllocater)((*fileHandle)(nil))
	_ = (fs.FileGetlker)((*fileHandle)(nil))
	_ = (fs.FileSetlker)((*fileHandle)(nil))
	_ = (fs.FileSetlkwer)((*fileHandle)(nil))
	_ = (fs.FilePassthroughFder)(passthroughFile{})
)

// passthroughFile is a handle the kernel may serve by passthrough. go-fuse
// offers passthrough only to handles that can give it a descriptor, and
// serves any other handle with requests even when another handle of the
// same file is under passthrough; so the kind of handle Open returns
// decides, per open.
type passthroughFile struct{ *fileHandle }

// forKernel is what Open and Create hand go-fuse: with passthrough unless
// the caller's writes must stay in the daemon (see mustNotPassthrough).
func (h *fileHandle) forKernel(passthrough bool) fs.FileHandle {
	if passthrough {
		return passthroughFile{h}
	}
	return h
}

// asHandle finds the handle behind what go-fuse passes back.
func asHandle(f fs.FileHandle) (*fileHandle, bool) {
	switch h := f.(type) {
	case *fileHandle:
		return h, true
	case passthroughFile:
		return h.fileHandle, true
	}
	return nil, false
}

// mustNotPassthrough: a caller acting as herself opening for writing.
// The kernel's passthrough writes run with the credentials the backing
// file was registered with — the daemon's, which keep set-id bits (root
// has CAP_FSETID) — while SOURCE must clear them as it would for her own
// write, also on a file made set-id after she opened it; her writes
// therefore go through the daemon, which writes as her.
func mustNotPassthrough(c *creds, writable bool, st *syscall.Stat_t) bool {
	return c.switched && writable
}

// newHandle wraps an fd just opened for node at rel by the caller of ctx.
func (n *Node) newHandle(ctx context.Context, fd int, flags uint32, rel string, st *syscall.Stat_t) *fileHandle {
	h := &fileHandle{
		node: n, file: os.NewFile(uintptr(fd), rel), fd: fd,
		writable: flags&syscall.O_ACCMODE != syscall.O_RDONLY,
		opener:   n.fsys.callers.of(ctx),
		path:     rel,
		released: make(chan struct{}),
		baseSize: st.Size, baseMtime: mtimeOf(st),
	}
	h.announceLife()
	n.fsys.addHandle(h)
	return h
}

// announceLife tells the watcher of SOURCE, for as long as the handle is
// open, that the file's closing (and, under kernel passthrough, every
// write) is the mount's own: the descriptor is ours, and passthrough
// writes never reach the daemon, so they cannot be announced one by one.
// They are reported by the size/mtime check instead (writes.go).
func (h *fileHandle) announceLife() {
	h.unannounce = noop
	if !h.writable {
		return
	}
	f := h.node.fsys
	ino, gen := h.node.identity()
	closed := f.expect(eventbus.CloseWrite, h.path, "", ino, gen)
	if !f.mayPassthrough() {
		h.unannounce = closed
		return
	}
	written := f.expect(eventbus.Write, h.path, "", ino, gen)
	h.unannounce = func() {
		time.AfterFunc(backingCloseGrace, func() { written(); closed() })
	}
}

// backingCloseGrace is how long after Release the announcement of a
// passthrough handle stands. The kernel's own backing file is closed by
// the task that closed the handle, in a step of its own that can run
// after the daemon has already handled RELEASE; the watcher of SOURCE
// must still know that close (IN_CLOSE_WRITE, or FAN_CLOSE_WRITE with
// that task's pid) for the mount's own.
const backingCloseGrace = 100 * time.Millisecond

// PassthroughFd offers the kernel a descriptor of the SOURCE file to back
// passthrough I/O with. The kernel opens its own backing files from it
// (with the caller's flags) and holds it until the node's last handle is
// released, after our Release has returned. For a writable handle it is
// therefore a read-only descriptor of the same file: the final close of
// our writable one must stay within Release, where the watcher of SOURCE
// was told to expect it (inotify would otherwise see a late
// IN_CLOSE_WRITE nobody announced).
func (p passthroughFile) PassthroughFd() (int, bool) {
	h := p.fileHandle
	if h.node.fsys.opts.NoPassthrough {
		return -1, false
	}
	if !h.writable {
		return h.fd, true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.backing == nil {
		fd, err := reopenReadOnly(h.fd)
		if err != nil {
			return h.fd, true
		}
		h.backing = os.NewFile(uintptr(fd), h.path)
	}
	return int(h.backing.Fd()), true
}

func (h *fileHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	return fuse.ReadResultFd(uintptr(h.fd), off, len(dest)), 0
}

// Write writes as the caller, so that SOURCE clears set-id bits and
// applies limits as it would for the caller's own write.
func (h *fileHandle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.markRequests()
	defer h.node.expectOn(eventbus.Write)()
	var n int
	errno := h.asCaller(ctx, func() (err error) {
		n, err = syscall.Pwrite(h.fd, data, off)
		return err
	})
	if errno != 0 {
		return 0, errno
	}
	h.wrote(ctx)
	return uint32(n), 0
}

// asCaller runs fn (a system call on the handle's descriptor) as the
// caller of ctx, or as the handle's opener when the kernel makes the
// request on no process's behalf (writeback of a shared mapping).
func (h *fileHandle) asCaller(ctx context.Context, fn func() error) syscall.Errno {
	if c, ok := fuse.FromContext(ctx); !ok || c.Pid == 0 {
		return fs.ToErrno(h.node.fsys.ids.run(&h.creds, fn))
	}
	o, errno := h.node.fsys.begin(ctx)
	if errno != 0 {
		return errno
	}
	return o.run(fn)
}

func (h *fileHandle) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	var st syscall.Stat_t
	if _, err := statAt(h.fd, "", &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStat(&st)
	return 0
}

func (h *fileHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	n, err := unix.Seek(h.fd, int64(off), int(whence))
	return uint64(n), fs.ToErrno(err)
}

// Flush runs at every close(2) of a descriptor of this handle. It is the
// last synchronous moment before close returns, so writes are reported
// here; close_write waits for Release (the last close), which the kernel
// sends asynchronously.
func (h *fileHandle) Flush(ctx context.Context) syscall.Errno {
	// Closing a dup of the fd gives SOURCE its close-to-open flush (NFS)
	// without closing the handle. It may block (a network filesystem
	// writing back), so no lock is held across it.
	nfd, err := syscall.Dup(h.fd)
	if err != nil {
		return fs.ToErrno(err)
	}
	err = syscall.Close(nfd)
	if h.writable {
		defer h.node.fsys.names.lockShared()()
		h.report(h.node.fsys.callers.of(ctx))
	}
	// Read-only handles too: a remove waits for their release (see
	// awaitClosing).
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	return fs.ToErrno(err)
}

func (h *fileHandle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	var err error
	if flags&1 != 0 {
		err = fdatasync(h.fd)
	} else {
		err = syscall.Fsync(h.fd)
	}
	if h.writable {
		defer h.node.fsys.names.lockShared()()
		h.report(h.node.fsys.callers.of(ctx))
	}
	return fs.ToErrno(err)
}

func (h *fileHandle) Allocate(ctx context.Context, off, size uint64, mode uint32) syscall.Errno {
	h.markRequests()
	defer h.node.expectOn(eventbus.Write)()
	if errno := h.asCaller(ctx, func() error { return fallocate(h.fd, mode, int64(off), int64(size)) }); errno != 0 {
		return errno
	}
	h.wrote(ctx)
	return 0
}

// Release is the last close of the handle: report what is pending, then
// close_write (or the opt-in close for read-only handles).
func (h *fileHandle) Release(ctx context.Context) syscall.Errno {
	f := h.node.fsys
	h.mu.Lock()
	h.closing = true // a change to the file waits for this release
	h.mu.Unlock()
	h.publishClose()
	h.mu.Lock()
	h.gone = true
	h.mu.Unlock()
	h.inUse.Wait()
	err := h.file.Close()
	if h.backing != nil {
		h.backing.Close() // the kernel keeps its own reference
	}
	// The handle stays registered until its descriptors are closed, so
	// that awaitReleases sees a release under way until SOURCE has seen
	// the close: a remove that overtook it would find the file still
	// open there, and NFS or a FUSE SOURCE (sshfs) would then hide it
	// under a new name (.nfsXXXX, .fuse_hidden*) instead of removing it,
	// and its directory would not be empty.
	f.dropHandle(h)
	close(h.released)
	h.unannounce()
	f.budget.give(h.uid)
	return fs.ToErrno(err)
}

// publishClose reports what is pending, then close_write (or the opt-in
// close for read-only handles).
func (h *fileHandle) publishClose() {
	f := h.node.fsys
	defer f.names.lockShared()()
	if h.writable {
		st, ok := h.report(h.opener)
		ev := newEvent(eventbus.CloseWrite, h.currentPath(), h.opener)
		if ok {
			withAttr(ev, &st)
		}
		f.publish(ev)
	} else if f.bus.Wants(eventbus.Close) {
		f.publish(newEvent(eventbus.Close, h.currentPath(), h.opener))
	}
}

// currentPath is the node's path now, or the last one known if the node
// has lost its name.
func (h *fileHandle) currentPath() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.currentPathLocked()
}

func (h *fileHandle) currentPathLocked() string {
	if rel, errno := h.node.relPath(); errno == 0 {
		h.path = rel
	}
	return h.path
}
