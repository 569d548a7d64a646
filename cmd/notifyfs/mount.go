package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/fusefs"
	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers"
)

type mountFlags struct {
	journal    string
	foreground bool
	print      bool
	format     string
	readyFD    int
	// ttlsChosen: the user set a cache lifetime; otherwise they follow
	// the underneath backend (long where it invalidates promptly).
	ttlsChosen bool
	bus        eventbus.Options
	fs         fusefs.Options
	socket     subscribers.Options
	underneath kqshim.Options
}

func runMount(args []string) error {
	mf := mountFlags{fs: fusefs.DefaultOptions(fusefs.IsRoot()), format: "text", readyFD: -1}
	set := newFlagSet("mount", "[flags] SOURCE MOUNTPOINT")
	set.BoolVarP(&mf.foreground, "foreground", "f", false, "stay attached; SIGINT/SIGTERM unmount cleanly")
	set.BoolVar(&mf.print, "print", false, "with -f: print events to stdout as they happen")
	set.StringVar(&mf.format, "format", mf.format, "with --print: text or json")
	set.StringVar(&mf.journal, "journal", "", "keep events on disk in DIR (default: one per mount under "+mountutil.StateDir()+"); none = memory only")
	set.IntVar(&mf.readyFD, "ready-fd", -1, "internal: descriptor to report readiness on")
	_ = set.MarkHidden("ready-fd")
	mf.socket.AddFlags(set)
	mf.fs.AddFlags(set)
	mf.bus.AddFlags(set)
	mf.underneath.AddFlags(set)
	pos, err := parse(set, args, "SOURCE", "MOUNTPOINT")
	if err != nil {
		return err
	}
	if err := kqshim.CheckBackend(mf.underneath.Backend); err != nil {
		return usagef("mount: --underneath: %v", err)
	}
	mf.ttlsChosen = set.Changed("entry-timeout") || set.Changed("attr-timeout") || set.Changed("negative-timeout")
	if mf.print && !mf.foreground {
		return usagef("mount: --print needs --foreground")
	}
	if mf.format != "text" && mf.format != "json" {
		return usagef("mount: --format must be text or json, not %q", mf.format)
	}
	source, mnt, err := prepareMount(pos[0], pos[1])
	if err != nil {
		signalReady(mf.readyFD, err)
		return err
	}
	if !mf.foreground {
		return startDaemon(args, mnt)
	}
	err = serve(&mf, source, mnt)
	// A failure before readiness goes to the waiting parent as well.
	signalReady(mf.readyFD, err)
	return err
}

// prepareMount validates SOURCE and MOUNTPOINT, clearing a stale mount
// left at MOUNTPOINT by a daemon that died.
func prepareMount(source, mnt string) (string, string, error) {
	if abs, err := absPath(mnt); err == nil && mountutil.IsStale(abs) {
		if _, err := mountutil.ClearStale(abs); err != nil {
			return "", "", err
		}
	}
	src, err := mountutil.CanonicalDir("source", source)
	if err != nil {
		return "", "", err
	}
	m, err := mountutil.CanonicalDir("mount point", mnt)
	if err != nil {
		return "", "", err
	}
	if err := mountutil.CheckOverlap(src, m); err != nil {
		return "", "", err
	}
	if mi, ok, _ := mountutil.Lookup(m); ok && mi.FSType == "fuse.notifyfs" {
		return "", "", fmt.Errorf("%s is already a notifyfs mount (of %s)", m, mi.Source)
	}
	if err := mountutil.CheckFuse(); err != nil {
		return "", "", err
	}
	return src, m, nil
}

// serve runs the daemon in this process until a signal or an external
// unmount ends it.
func serve(mf *mountFlags, source, mnt string) error {
	logger := log.New(os.Stderr, "notifyfs: ", log.LstdFlags)
	switch mf.journal {
	case "none":
	case "":
		mf.bus.Journal.Dir = mountutil.JournalDir(source, mnt)
	default:
		dir, err := filepath.Abs(mf.journal)
		if err != nil {
			return err
		}
		mf.bus.Journal.Dir = dir
	}
	mf.bus.Journal.Logf = logger.Printf
	bus, err := eventbus.OpenBus(mf.bus)
	if err != nil {
		return err
	}
	defer bus.Close() // on early returns; idempotent
	under, err := watchUnderneath(mf, source, bus, logger)
	if err != nil {
		return err
	}
	fsys, err := fusefs.New(source, bus, mf.fs)
	if err != nil {
		return err
	}
	defer fsys.Close()
	if under != nil {
		under.setInvalidate(fsys.Invalidate)
		fsys.SetUnderneath(under.w)
		defer under.w.Close()
	}

	if mf.socket.SocketPath == "" {
		if err := mountutil.EnsureRuntimeDir(); err != nil {
			return err
		}
		mf.socket.SocketPath = mountutil.SocketPath(mnt)
	} else if mf.socket.SocketPath, err = filepath.Abs(mf.socket.SocketPath); err != nil {
		return err
	}
	info := subscribers.Info{MountPoint: mnt, Source: source, Backend: "off", Extra: fsys.Stats}
	if under != nil {
		info.Backend = under.w.Backend()
		info.Flush = func() { under.w.Flush(flushTimeout) }
		info.Extra = func() map[string]any {
			m := fsys.Stats()
			m["underneath"] = under.w.Stats()
			return m
		}
	}
	srv, err := subscribers.Listen(bus, info, mf.socket)
	if err != nil {
		return err
	}
	go srv.Serve()
	unadvertise, err := mountutil.Advertise(mnt, mf.socket.SocketPath)
	if err != nil {
		srv.Close()
		return err
	}
	defer unadvertise()

	var printed chan struct{}
	if mf.print {
		printed = make(chan struct{})
		sub, err := bus.Subscribe("print", eventbus.Filter{}, nil)
		if err != nil {
			return err
		}
		go printEvents(sub, os.Stdout, mf.format == "json", printed)
	}

	// Catch signals before anyone can know we are ready.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	opts := fsys.MountOptions()
	opts.Logger = logger
	server, err := fs.Mount(mnt, fsys.Root(), opts)
	if err != nil {
		bus.Close()
		srv.Close()
		return fmt.Errorf("mount %s: %w", mnt, err)
	}
	granted := server.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH != 0
	fsys.SetKernelPassthrough(granted)
	if err := fsys.SetMountPoint(mnt); err != nil {
		logger.Printf("stat %s: %v", mnt, err)
	}
	if (!granted || !fusefs.IsRoot()) && !mf.fs.NoPassthrough {
		logger.Printf("kernel passthrough unavailable (needs Linux 6.9+ and root); reads and writes go through the daemon")
	}
	signalReady(mf.readyFD, nil)
	mf.readyFD = -1

	done := make(chan struct{})
	go func() { server.Wait(); close(done) }()
	select {
	case s := <-sigs:
		logger.Printf("%v: unmounting %s", s, mnt)
		// Busy for long: detach rather than leave a stale mount behind.
		if err := mountutil.Unmount(mnt, 5*time.Second, true); err != nil {
			logger.Printf("%v: serving its remaining users until they leave", err)
		}
		<-done
	case <-fsys.SourceLost():
		logger.Printf("%s: unmounting %s", fsys.LostReason(), mnt)
		if err := mountutil.Unmount(mnt, 5*time.Second, true); err != nil {
			logger.Printf("%v: serving its remaining users until they leave", err)
		}
		<-done
	case <-done:
		logger.Printf("%s was unmounted", mnt)
	}
	// Socket first: a client that sees the stream end must find it gone.
	srv.StopAccepting()
	unadvertise()
	if under != nil {
		under.w.Close() // nothing to bridge into a bus that is closing
	}
	fsys.Close() // reports what handles still open had written
	bus.Close()  // publishes unmount to every subscriber, closes the journal
	if printed != nil {
		<-printed
	}
	return srv.Close()
}

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
			line = formatEvent(line[:0], e, asJSON)
			bw.Write(line)
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

func formatEvent(b []byte, e *eventbus.Event, asJSON bool) []byte {
	if asJSON {
		b = e.AppendJSON(b)
	} else {
		b = e.AppendText(b)
	}
	return append(b, '\n')
}

// absPath makes p absolute without touching the filesystem beyond it.
func absPath(p string) (string, error) {
	if len(p) > 0 && p[0] == '/' {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return wd + "/" + p, nil
}
