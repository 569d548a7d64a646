package daemon

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/notifyfs/notifyfs/cluster"
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/fusefs"
	"github.com/notifyfs/notifyfs/internal/journals"
	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers"
)

// Daemon is one running notifyfs: SOURCE mounted at MountPoint, its
// events on a bus (and journal), served on a socket, and optionally the
// watcher of changes made underneath the mount.
type Daemon struct {
	cfg  Config
	bus  *eventbus.Bus
	fsys *fusefs.FS
	// under is nil when Config.Underneath.Backend is "off".
	under *kqshim.Watcher
	// index is nil without a journal; gate holds the watcher's events
	// until the offline ones are published (offline.go).
	index    *kqshim.Index
	gate     chan struct{}
	gateOnce sync.Once
	// node is nil unless the mount is clustered.
	node    *cluster.Node
	nodeRef atomic.Pointer[cluster.Node] // node, for the watcher's goroutine
	srv     *subscribers.Server
	server  *fuse.Server
	socket  string

	unadvertise  func()
	printed      chan struct{} // closed when --print has written the last event; nil without Print
	passthrough  bool          // the kernel granted passthrough and the filesystem uses it
	fuseProtocol string        // the kernel's FUSE protocol version, "7.41"

	ready     chan struct{} // closed once mounted
	unmounted chan struct{} // closed when the kernel has let go of the mount
	closing   atomic.Bool
	done      chan struct{} // closed when the shutdown is complete
	err       error         // of the shutdown; read after done
	closeOnce sync.Once
}

// Start brings a daemon up: bus and journal, the watcher of changes
// underneath (first, so that no change slips between it and the mount),
// the filesystem, the socket, then the mount itself. It returns once the
// mount is ready, or the error that kept it from being ready with
// everything it had started undone.
func Start(cfg Config) (_ *Daemon, err error) {
	cfg.setDefaults()
	// d is not the named result: "return nil, err" must not nil it
	// before the deferred shutdown runs.
	d := &Daemon{cfg: cfg, ready: make(chan struct{}), unmounted: make(chan struct{}), done: make(chan struct{})}
	defer func() {
		if err != nil {
			d.shutdown() // whatever was started, in the usual order
		}
	}()
	logger := cfg.Logger

	if err := d.chooseJournal(); err != nil {
		return nil, err
	}
	if d.cfg.Cluster.Enabled() {
		if err := d.cfg.Cluster.Validate(true); err != nil {
			return nil, err
		}
		d.cfg.Bus.Host = d.cfg.Cluster.Host // every event says where it happened
	}
	d.cfg.Bus.Journal.Logf = logger.Printf
	if d.bus, err = eventbus.OpenBus(d.cfg.Bus); err != nil {
		return nil, err
	}
	d.gate = make(chan struct{})
	if dir := d.cfg.Bus.Journal.Dir; dir != "" {
		// So that `notifyfs journals` can say whose journal this is.
		if err := journals.WriteOrigin(dir, d.cfg.Source, d.cfg.MountPoint); err != nil {
			logger.Printf("journal origin: %v", err)
		}
	}
	invalidate, err := d.watchUnderneath()
	if err != nil {
		return nil, err
	}
	d.openIndex()
	d.openGate()
	if d.fsys, err = fusefs.New(d.cfg.Source, d.bus, d.cfg.FS); err != nil {
		return nil, err
	}
	// Where no kernel note tells of SOURCE's changes, nothing invalidates
	// the mount's caches promptly: opens revalidate instead (fusefs
	// coherence.go).
	d.fsys.SetCloseToOpen(d.under == nil || d.under.Backend() == "poll" || kqshim.NetworkFS(d.cfg.Source) != "")
	if d.under != nil {
		f := d.fsys.Invalidate
		invalidate.Store(&f)
		d.fsys.SetUnderneath(d.under)
	}

	if err := d.joinCluster(); err != nil {
		return nil, err
	}
	if err := d.serveSocket(); err != nil {
		return nil, err
	}
	if d.cfg.Advertise {
		if d.unadvertise, err = mountutil.Advertise(d.cfg.MountPoint, d.socket); err != nil {
			return nil, err
		}
	}
	if d.cfg.Print != nil {
		sub, err := d.bus.Subscribe("print", eventbus.Filter{}, nil)
		if err != nil {
			return nil, err
		}
		d.printed = make(chan struct{})
		go printEvents(sub, d.cfg.Print, d.cfg.PrintJSON, d.printed)
	}

	if d.server, err = d.mount(); err != nil {
		return nil, fmt.Errorf("mount %s: %w", d.cfg.MountPoint, err)
	}
	ks := d.server.KernelSettings()
	d.fuseProtocol = fmt.Sprintf("%d.%d", ks.Major, ks.Minor)
	granted := ks.Flags64()&fuse.CAP_PASSTHROUGH != 0
	d.fsys.SetKernelPassthrough(granted)
	if err := d.fsys.SetMountPoint(d.cfg.MountPoint); err != nil {
		logger.Printf("stat %s: %v", d.cfg.MountPoint, err)
	}
	d.passthrough = granted && fusefs.IsRoot() && !d.cfg.FS.NoPassthrough
	if (!granted || !fusefs.IsRoot()) && !d.cfg.FS.NoPassthrough {
		logger.Printf("kernel passthrough unavailable (needs Linux 6.9+ and root); reads and writes go through the daemon")
	}
	close(d.ready)
	go d.run()
	go d.leaveWhenSourceLost()
	return d, nil
}

// leaveWhenSourceLost unmounts once SOURCE is no longer the directory
// that was mounted: serving the dead tree would only mislead.
func (d *Daemon) leaveWhenSourceLost() {
	select {
	case <-d.fsys.SourceLost():
		d.cfg.Logger.Printf("%s: unmounting %s", d.fsys.LostReason(), d.cfg.MountPoint)
		d.Close()
	case <-d.unmounted:
	}
}

// mount mounts the filesystem as fs.Mount does, with the request handler
// wrapped by Config.Instrument if set.
func (d *Daemon) mount() (*fuse.Server, error) {
	opts := d.fsys.MountOptions()
	opts.Logger = d.cfg.Logger
	if d.cfg.ReadOnly {
		// A superblock flag: direct mounts and fusermount both take it.
		opts.MountOptions.Options = append(opts.MountOptions.Options, "ro")
	}
	raw := fs.NewNodeFS(d.fsys.Root(), opts)
	if d.cfg.Instrument != nil {
		raw = d.cfg.Instrument(raw)
	}
	server, err := fuse.NewServer(raw, d.cfg.MountPoint, &opts.MountOptions)
	if err != nil {
		return nil, err
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		return nil, err // the serve loop ends by itself, as with fs.Mount
	}
	return server, nil
}

// chooseJournal sets Bus.Journal.Dir from Config.Journal.
func (d *Daemon) chooseJournal() error {
	switch d.cfg.Journal {
	case "none":
		d.cfg.Bus.Journal.Dir = ""
	case "":
		d.cfg.Bus.Journal.Dir = mountutil.JournalDir(d.cfg.Source, d.cfg.MountPoint)
	default:
		dir, err := filepath.Abs(d.cfg.Journal)
		if err != nil {
			return err
		}
		d.cfg.Bus.Journal.Dir = dir
	}
	return nil
}

// watchUnderneath starts the watcher Config asks for and sets the kernel
// cache lifetimes to suit it, unless the user chose them. The watcher
// starts before the filesystem exists, so its cache invalidation is bound
// late, through the returned pointer.
func (d *Daemon) watchUnderneath() (*atomic.Pointer[func(*eventbus.Event)], error) {
	var invalidate atomic.Pointer[func(*eventbus.Event)]
	if d.cfg.Underneath.Backend == "off" {
		return &invalidate, nil
	}
	var hold time.Duration
	var gate func(time.Time) bool
	if d.cfg.Cluster.Enabled() {
		// The node starts after the watcher: the gate stays shut
		// until it exists.
		hold = d.cfg.Cluster.EchoHold
		gate = func(found time.Time) bool {
			if n := d.nodeRef.Load(); n != nil {
				return n.Gate(found)
			}
			return false
		}
	}
	w, err := kqshim.New(d.cfg.Underneath, kqshim.Config{
		Source:   d.cfg.Source,
		Hold:     hold,
		HoldGate: gate,
		Publish: func(ev *eventbus.Event) {
			<-d.gate // offline changes are published first
			d.bus.Publish(ev)
		},
		Invalidate: func(ev *eventbus.Event) {
			if f := invalidate.Load(); f != nil {
				(*f)(ev)
			}
		},
		Logf: d.cfg.Logger.Printf,
	})
	if err != nil {
		return nil, err
	}
	d.under = w
	if !d.cfg.TTLsChosen && w.Backend() != "poll" {
		d.cfg.FS.EntryTimeout, d.cfg.FS.AttrTimeout, d.cfg.FS.NegativeTimeout = longTTL, longTTL, longTTL
	}
	d.cfg.Logger.Printf("changes underneath %s are seen with %s", d.cfg.Source, w.Backend())
	return &invalidate, nil
}

// joinCluster starts publishing the mount's events to the share's stream
// and applying the other hosts' (a clustered mount only). It comes after
// the filesystem, whose caches a remote event invalidates, and before the
// mount, so that the publisher's position precedes every event.
func (d *Daemon) joinCluster() error {
	if !d.cfg.Cluster.Enabled() {
		return nil
	}
	cfg := cluster.Config{
		Bus: d.bus, Dir: d.cfg.Bus.Journal.Dir, Invalidate: d.fsys.Invalidate, Logf: d.cfg.Logger.Printf,
	}
	if d.under != nil {
		window := d.cfg.Cluster.EchoWindow
		cfg.ExpectRemote = func(ev *eventbus.Event) { d.under.ExpectRemote(ev, window) }
	}
	n, err := cluster.Start(d.cfg.Cluster, cfg)
	if err != nil {
		return err
	}
	d.node = n
	d.nodeRef.Store(n)
	return nil
}

// serveSocket creates the subscriber socket and serves it.
func (d *Daemon) serveSocket() error {
	sock := d.cfg.Socket
	if sock.SocketPath == "" {
		if err := mountutil.EnsureRuntimeDir(); err != nil {
			return err
		}
		sock.SocketPath = mountutil.SocketPath(d.cfg.MountPoint)
	} else {
		abs, err := filepath.Abs(sock.SocketPath)
		if err != nil {
			return err
		}
		sock.SocketPath = abs
	}
	info := subscribers.Info{MountPoint: d.cfg.MountPoint, Source: d.cfg.Source, Backend: "off",
		Status: func(st *subscribers.Status) any { return d.statusOf(st) }}
	if d.under != nil {
		info.Backend = d.under.Backend()
		info.Flush = func() { d.under.Flush(flushTimeout) }
	}
	srv, err := subscribers.Listen(d.bus, info, sock)
	if err != nil {
		return err
	}
	d.srv, d.socket = srv, sock.SocketPath
	go srv.Serve()
	return nil
}

// run waits for the kernel to let go of the mount and then shuts down.
func (d *Daemon) run() {
	d.server.Wait()
	close(d.unmounted)
	if !d.closing.Load() {
		d.cfg.Logger.Printf("%s was unmounted", d.cfg.MountPoint)
	}
	d.err = d.shutdown()
	close(d.done)
}

// shutdown stops everything after the unmount, in the order that keeps
// every promise to subscribers. It also undoes a Start that failed
// half-way, so it skips what was never started.
func (d *Daemon) shutdown() error {
	// Socket first: a client that sees the stream end must find it gone.
	if d.srv != nil {
		d.srv.StopAccepting()
	}
	if d.unadvertise != nil {
		d.unadvertise()
	}
	if d.node != nil {
		d.node.StopConsuming() // nothing more from other hosts into a bus that is closing
	}
	if d.under != nil {
		d.openGate()    // a Start that failed before opening it
		d.under.Close() // nothing to bridge into a bus that is closing
	}
	if d.fsys != nil {
		d.fsys.Close() // reports what handles still open had written
	}
	if d.index != nil {
		// Last: it must cover every event, and before the bus closes.
		if err := d.index.Close(); err != nil {
			d.cfg.Logger.Printf("%v", err)
		}
	}
	if d.bus != nil {
		d.bus.Close() // publishes unmount to every subscriber, closes the journal
	}
	if d.node != nil {
		d.node.Close() // sends what it can of the last events, keeps its positions
	}
	if d.printed != nil {
		<-d.printed
	}
	if d.srv != nil {
		return d.srv.Close()
	}
	return nil
}

// Ready is closed once the mount is ready; Start returns only then, so
// for a daemon Start returned it is already closed. It is there for code
// handed a *Daemon to wait on.
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Wait returns once the mount is gone (unmounted by Close or from
// outside) and everything is shut down, with the error of the shutdown.
func (d *Daemon) Wait() error {
	<-d.done
	return d.err
}

// Close unmounts (retrying a busy mount for Config.UnmountWait, then
// detaching it, so that no stale mount is left behind) and waits for the
// shutdown. A detached mount keeps serving its remaining users until
// they leave, and Close returns only then.
func (d *Daemon) Close() error {
	d.closeOnce.Do(func() {
		d.closing.Store(true)
		select {
		case <-d.unmounted:
			return
		default:
		}
		mi, _, _ := mountutil.Lookup(d.cfg.MountPoint)
		err := mountutil.Unmount(d.cfg.MountPoint, d.cfg.UnmountWait, true)
		if d.abortIfHeldElsewhere(mi.Dev) {
			return
		}
		if err != nil {
			d.cfg.Logger.Printf("%v: serving its remaining users until they leave", err)
		}
	})
	return d.Wait()
}

// Bus is the daemon's event bus, for in-process subscribers.
func (d *Daemon) Bus() *eventbus.Bus { return d.bus }

// Cluster is the daemon's membership of a share (nil: not clustered).
func (d *Daemon) Cluster() *cluster.Node { return d.node }

// Socket is the path of the subscriber socket.
func (d *Daemon) Socket() string { return d.socket }

// Passthrough reports whether reads and writes use kernel passthrough.
func (d *Daemon) Passthrough() bool { return d.passthrough }

// printEvents writes the stream of sub to w until the bus closes.
func printEvents(sub *eventbus.Subscription, w io.Writer, asJSON bool, done chan<- struct{}) {
	defer close(done)
	bw := bufio.NewWriter(w)
	var buf []*eventbus.Event
	var line []byte
	for {
		var finished bool
		buf, _, finished = sub.Take(buf[:0], 1024)
		for _, e := range buf {
			if asJSON {
				line = e.AppendJSON(line[:0])
			} else {
				line = e.AppendText(line[:0])
			}
			bw.Write(append(line, '\n'))
		}
		bw.Flush()
		if finished {
			return
		}
		if len(buf) == 0 {
			<-sub.Ready()
		}
	}
}
