package main

import (
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/notifyfs/notifyfs/fusefs"
	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/internal/memlimit"
	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/mountutil"
)

type mountFlags struct {
	foreground bool
	print      bool
	format     string
	readyFD    int
	metrics    metricsFlag
	daemon     daemon.Config
}

func runMount(args []string) error {
	mf := mountFlags{format: "text", readyFD: -1}
	cfg := &mf.daemon
	cfg.FS = fusefs.DefaultOptions(fusefs.IsRoot())
	set := newFlagSet("mount", "[flags] SOURCE MOUNTPOINT")
	set.BoolVarP(&mf.foreground, "foreground", "f", false, "stay attached; SIGINT/SIGTERM unmount cleanly")
	set.BoolVar(&mf.print, "print", false, "with -f: print events to stdout as they happen")
	set.StringVar(&mf.format, "format", mf.format, "with --print: text or json")
	set.StringVar(&cfg.Journal, "journal", "", "keep events on disk in DIR (default: one per mount under "+mountutil.StateDir()+"); none = memory only")
	set.IntVar(&mf.readyFD, "ready-fd", -1, "internal: descriptor to report readiness on")
	_ = set.MarkHidden("ready-fd")
	cfg.Socket.AddFlags(set)
	cfg.FS.AddFlags(set)
	cfg.Bus.AddFlags(set)
	cfg.Underneath.AddFlags(set)
	mf.metrics.addFlag(set)
	set.BoolVar(&cfg.ReadOnly, "read-only", false, "mount read-only (-o ro)")
	cfg.Cluster.AddFlags(set)
	pos, err := parse(set, args, "SOURCE", "MOUNTPOINT")
	if err != nil {
		return err
	}
	if err := checkMountValues(set, cfg); err != nil {
		return err
	}
	if err := kqshim.CheckBackend(cfg.Underneath.Backend); err != nil {
		return usagef("mount: --underneath: %v", err)
	}
	if err := cfg.Cluster.Validate(true); err != nil {
		return usagef("mount: %v", err)
	}
	cfg.TTLsChosen = set.Changed("entry-timeout") || set.Changed("attr-timeout") || set.Changed("negative-timeout")
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
	cfg := mf.daemon
	cfg.Source, cfg.MountPoint, cfg.Advertise = source, mnt, true
	cfg.Logger = log.New(os.Stderr, "notifyfs: ", log.LstdFlags)
	if mf.print {
		cfg.Print, cfg.PrintJSON = os.Stdout, mf.format == "json"
	}
	// Catch signals before anyone can know we are ready.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	ownLimit := os.Getenv("GOMEMLIMIT") == ""
	if ownLimit {
		// Keep the heap near what is live: the ring's budget plus the
		// daemon's own needs, not twice that (see MemoryLimit).
		debug.SetMemoryLimit(cfg.Bus.MemoryLimit())
	}
	if err := mf.metrics.prepare(&cfg); err != nil {
		return err
	}
	defer mf.metrics.stop()
	d, err := daemon.Start(cfg)
	if err != nil {
		return err
	}
	if ownLimit {
		// From now on the limit follows what the daemon holds outside
		// the ring, so that a large tree does not make the collector
		// run back to back (internal/memlimit).
		k := memlimit.Start(memlimit.Options{
			Budget: cfg.Bus.RingBudget(), Headroom: cfg.Bus.MemoryLimit() - cfg.Bus.RingBudget(), Held: d.Bus().RingBytes,
		})
		defer k.Stop()
	}
	if err := mf.metrics.start(d); err != nil {
		d.Close()
		return err
	}
	signalReady(mf.readyFD, nil)
	mf.readyFD = -1
	notifyReady(source, mnt, d.Socket())

	done := make(chan error, 1)
	go func() { done <- d.Wait() }()
	select {
	case s := <-sigs:
		cfg.Logger.Printf("%v: unmounting %s", s, mnt)
		notifyStopping(fmt.Sprintf("%v: unmounting %s", s, mnt))
		return d.Close()
	case err := <-done:
		notifyStopping(mnt + " was unmounted")
		return err
	}
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
