package fusefs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// ErrSource is wrapped by errors about the SOURCE directory.
var ErrSource = errors.New("fusefs: bad source")

// FS is one mirrored tree: the root fd of SOURCE, the bus events go to,
// and the bookkeeping of open writable handles.
type FS struct {
	source string
	rootfd int
	dev    uint64
	opts   Options
	bus    *eventbus.Bus
	root   *Node

	callers callers
	ids     *identities
	names   nameLock
	nodes   nodeIndex // every node by SOURCE inode, for invalidation

	handlesMu sync.Mutex
	handles   map[*Node][]*fileHandle // every open file handle, by node

	// underneath, if set, is told of every change before it is made.
	underneath Underneath
	// mounted: the kernel is connected, so its caches can be invalidated.
	mounted atomic.Bool
	// closeToOpen: every open revalidates attributes (coherence.go).
	closeToOpen atomic.Bool

	// passthrough is what the kernel granted at mount: passthroughUnknown
	// until SetKernelPassthrough says.
	passthrough atomic.Int32

	// pins counts the directory descriptors nodes hold, at most maxPins
	// (a share of the descriptor limit; beyond it directories are opened
	// per operation from their nearest pinned ancestor).
	pins    atomic.Int64
	maxPins int64
	// treeGen moves whenever a change made underneath moves or removes
	// names: pins are then checked again before use (dirpin.go).
	treeGen atomic.Uint64
	// mountDev is the device number of this very mount (0 until known):
	// SOURCE must never lead back into it.
	mountDev atomic.Uint64
	// lost is closed when SOURCE stops being the mounted directory.
	lost       chan struct{}
	lostReason atomic.Pointer[string]
	// budget caps each user's open handles.
	budget handleBudget

	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New opens SOURCE and prepares a filesystem that publishes to bus.
func New(source string, bus *eventbus.Bus, opts Options) (*FS, error) {
	fd, err := unix.Open(source, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: open %s: %w", ErrSource, source, err)
	}
	var st syscall.Stat_t
	if _, err := statAt(fd, "", &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("%w: stat %s: %w", ErrSource, source, err)
	}
	// Objects are made with the mode the kernel passes, which already has
	// the caller's umask applied; the daemon's own would be applied again.
	syscall.Umask(0)
	ids, err := newIdentities()
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("fusefs: reading the daemon's credentials: %w", err)
	}
	f := &FS{
		source: source, rootfd: fd, dev: uint64(st.Dev), opts: opts, bus: bus,
		ids:     ids,
		handles: make(map[*Node][]*fileHandle),
		stop:    make(chan struct{}),
		lost:    make(chan struct{}),
	}
	limit := descriptorLimit()
	f.maxPins = int64(limit / 4)
	f.budget.max = opts.MaxHandlesPerUser
	if f.budget.max <= 0 {
		f.budget.max = limit / 4
	}
	f.root = &Node{fsys: f}
	if opts.WriteInterval > 0 {
		f.wg.Add(1)
		go f.reportWritesEvery(opts.WriteInterval)
	}
	f.wg.Add(1)
	go f.watchSource()
	return f, nil
}

// Root is the node to mount.
func (f *FS) Root() fs.InodeEmbedder { return f.root }

// Source is the absolute SOURCE path.
func (f *FS) Source() string { return f.source }

// MountOptions returns go-fuse options for mounting this filesystem at
// mountpoint, with the kernel cache lifetimes and permissions of Options.
func (f *FS) MountOptions() *fs.Options {
	o := &fs.Options{
		EntryTimeout:    &f.opts.EntryTimeout,
		AttrTimeout:     &f.opts.AttrTimeout,
		NegativeTimeout: &f.opts.NegativeTimeout,
		// Inode numbers come from SOURCE so that hard links share one
		// node and `ls -i` agrees with SOURCE.
		RootStableAttr: &fs.StableAttr{Ino: f.stableIno(f.dev, f.rootIno()), Gen: 1},
		// A mode of 0 is shown as 0, not as go-fuse's stand-in 0644/0755
		// (with default_permissions the kernel would check against it).
		NullPermissions: true,
	}
	o.MountOptions = fuse.MountOptions{
		FsName:      f.source,
		Name:        "notifyfs",
		AllowOther:  f.opts.AllowOther,
		Debug:       f.opts.Debug,
		EnableLocks: true,
		// Without it the kernel sends O_TRUNC as a separate SETATTR
		// before OPEN: one more round trip for every truncating open.
		// With HANDLE_KILLPRIV_V2 the kernel leaves clearing set-id bits
		// and capabilities on write, truncate and chown to the daemon —
		// which acts as the caller, so SOURCE clears them as it would for
		// the caller's own call — instead of sending a SETATTR of the mode
		// (refused to a writer who is not the owner) and asking for
		// security.capability before every first write.
		ExtraCapabilities:    fuse.CAP_ATOMIC_O_TRUNC | killPrivCapability,
		EnableSymlinkCaching: true,
		// Mount with mount(2) directly when we may (root); otherwise
		// go-fuse falls back to the fusermount helper.
		DirectMount: true,
		MaxWrite:    1 << 20,
	}
	if f.opts.DefaultPermissions {
		o.MountOptions.Options = append(o.MountOptions.Options, "default_permissions")
		// The kernel's check then knows SOURCE's POSIX ACLs too (so an
		// ACL grants through the mount what it grants natively), and it
		// caches them per inode: `ls -l` asks for system.posix_acl_access
		// once per file, not at every listing.
		o.MountOptions.EnableAcl = true
	}
	return o
}

func (f *FS) rootIno() uint64 {
	var st syscall.Stat_t
	if _, err := statAt(f.rootfd, "", &st); err != nil {
		return 1
	}
	return st.Ino
}

// stableIno maps a SOURCE inode to a mount inode number. Inside SOURCE's
// own device it is the same number; inodes of other devices mounted
// beneath SOURCE get their device mixed in so that they cannot collide.
func (f *FS) stableIno(dev, ino uint64) uint64 {
	if dev == f.dev {
		return ino
	}
	swapped := dev<<32 | dev>>32
	return swapped ^ ino
}

func (f *FS) stableAttr(st *syscall.Stat_t, gen uint64) fs.StableAttr {
	return fs.StableAttr{Mode: uint32(st.Mode), Ino: f.stableIno(uint64(st.Dev), st.Ino), Gen: gen}
}

// Close stops the write reporter, releases the handles still open
// (reporting what they wrote), and releases SOURCE. Call it after the
// mount is gone and before the bus is closed. Calling it again does
// nothing.
func (f *FS) Close() error {
	var err error
	f.stopOnce.Do(func() {
		close(f.stop)
		f.wg.Wait()
		// The server has stopped: handles whose RELEASE never came (the
		// kernel queues it after close(2) returns, and an unmount can
		// overtake it) are released here, their writes and close_write
		// reported, their descriptors of SOURCE closed.
		for _, h := range f.allHandles() {
			h.Release(context.Background())
		}
		f.callers.close()
		f.ids.status.Close()
		f.dropPins()
		err = unix.Close(f.rootfd)
	})
	return err
}

// Stats describes the filesystem for status output.
func (f *FS) Stats() Stats {
	return Stats{
		OpenWriters:   len(f.openWriters()),
		HandlesByUID:  f.budget.users(),
		PinnedDirs:    f.pins.Load(),
		Passthrough:   f.passthrough.Load() == passthroughOn,
		WriteInterval: f.opts.WriteInterval.String(),
	}
}

// Stats is the filesystem's part of the daemon's status.
type Stats struct {
	// OpenWriters counts handles open for writing.
	OpenWriters int `json:"open_writers"`
	// HandlesByUID counts the open handles of each user other than root
	// (by uid), capped by Options.MaxHandlesPerUser.
	HandlesByUID map[string]int `json:"handles_by_uid"`
	// PinnedDirs counts the directory descriptors nodes hold.
	PinnedDirs int64 `json:"pinned_dirs"`
	// Passthrough: reads and writes of regular files use kernel
	// passthrough.
	Passthrough bool `json:"passthrough"`
	// WriteInterval is how often a busy writer is reported (--write-interval).
	WriteInterval string `json:"write_interval"`
}

// SetKernelPassthrough records whether the kernel granted passthrough at
// mount time (CAP_PASSTHROUGH), for status; it is called once the mount
// is up, which also lets Invalidate reach the kernel. Registering a backing file
// also needs CAP_SYS_ADMIN, hence the root check.
func (f *FS) SetKernelPassthrough(granted bool) {
	f.mounted.Store(true)
	if granted && !f.opts.NoPassthrough && IsRoot() {
		f.passthrough.Store(passthroughOn)
	} else {
		f.passthrough.Store(passthroughOff)
	}
}

const (
	passthroughUnknown = iota
	passthroughOn
	passthroughOff
)

// mayPassthrough: handles may be under kernel passthrough, so writes may
// have to be detected by size/mtime.
func (f *FS) mayPassthrough() bool {
	return !f.opts.NoPassthrough && f.passthrough.Load() != passthroughOff
}

// IsRoot reports whether the process runs as root, which decides the
// default permission model.
func IsRoot() bool { return os.Geteuid() == 0 }

// reportWritesEvery makes sure a long-lived writer is reported at least
// once per interval, including writes made under kernel passthrough that
// never reach the daemon.
func (f *FS) reportWritesEvery(interval time.Duration) {
	f.every(interval, func() bool {
		for _, h := range f.openWriters() {
			h.reportIfDue(interval)
		}
		return true
	})
}

// every runs fn every interval, on a goroutine counted in f.wg, until the
// filesystem closes or fn returns false.
func (f *FS) every(interval time.Duration, fn func() bool) {
	defer f.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
			if !fn() {
				return
			}
		}
	}
}

// addHandle registers a newly opened handle.
func (f *FS) addHandle(h *fileHandle) {
	f.handlesMu.Lock()
	f.handles[h.node] = append(f.handles[h.node], h)
	f.handlesMu.Unlock()
}

// dropHandle forgets a released handle.
func (f *FS) dropHandle(h *fileHandle) {
	f.handlesMu.Lock()
	defer f.handlesMu.Unlock()
	hs := slices.DeleteFunc(f.handles[h.node], func(x *fileHandle) bool { return x == h })
	if len(hs) == 0 {
		delete(f.handles, h.node)
	} else {
		f.handles[h.node] = hs
	}
}

// openWriters returns every open handle that may write (the periodic
// check, shutdown).
func (f *FS) openWriters() []*fileHandle {
	f.handlesMu.Lock()
	defer f.handlesMu.Unlock()
	var out []*fileHandle
	for _, hs := range f.handles {
		for _, h := range hs {
			if h.writable {
				out = append(out, h)
			}
		}
	}
	return out
}

// writersOf returns the open handles of n that may write. It is on the
// path of every change to a file, so it looks at n's handles only.
func (f *FS) writersOf(n *Node) []*fileHandle {
	f.handlesMu.Lock()
	defer f.handlesMu.Unlock()
	var out []*fileHandle
	for _, h := range f.handles[n] {
		if h.writable {
			out = append(out, h)
		}
	}
	return out
}

// allHandles returns every open handle.
func (f *FS) allHandles() []*fileHandle {
	f.handlesMu.Lock()
	defer f.handlesMu.Unlock()
	var out []*fileHandle
	for _, hs := range f.handles {
		out = append(out, hs...)
	}
	return out
}

// handlesOf returns the open handles of n.
func (f *FS) handlesOf(n *Node) []*fileHandle {
	f.handlesMu.Lock()
	defer f.handlesMu.Unlock()
	return slices.Clone(f.handles[n])
}

// handleOf returns an open handle of n, pinned (unpin it when done), if
// any: the way to reach a file whose last name is gone.
func (f *FS) handleOf(n *Node) *fileHandle {
	f.handlesMu.Lock()
	defer f.handlesMu.Unlock()
	for _, h := range f.handles[n] {
		if h.acquire() {
			return h
		}
	}
	return nil
}

// publish stamps the origin and hands the event to the bus.
func (f *FS) publish(e *eventbus.Event) {
	e.Origin = eventbus.OriginMount
	f.bus.Publish(e)
}

// event starts an event made by the caller of ctx at rel.
func (f *FS) event(ctx context.Context, t eventbus.Type, rel string) *eventbus.Event {
	w := f.callers.of(ctx)
	return newEvent(t, rel, w)
}

func newEvent(t eventbus.Type, rel string, w who) *eventbus.Event {
	return &eventbus.Event{Type: t, Path: rel, Pid: w.pid, Uid: w.uid, Gid: w.gid, Comm: w.comm}
}

// withAttr copies the object's identity into the event.
func withAttr(e *eventbus.Event, st *syscall.Stat_t) *eventbus.Event {
	e.HasAttr = true
	e.Ino = st.Ino
	e.Mode = uint32(st.Mode)
	e.Size = st.Size
	e.IsDir = st.Mode&syscall.S_IFMT == syscall.S_IFDIR
	return e
}
