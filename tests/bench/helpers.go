package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/fusefs"
	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers"
)

// runHelper runs a hidden subcommand: this binary re-run as a helper
// process. Each reports readiness on fd 3 ("ok ..." or "error: ...").
func runHelper(name string, args []string) int {
	var err error
	switch name {
	case "__loopback":
		err = helperLoopback(args)
	case "__profile":
		err = helperProfile(args)
	case "__busrate":
		err = helperBusRate(args)
	case "__backlog":
		err = helperBacklog(args)
	default:
		err = fmt.Errorf("unknown helper %s", name)
	}
	if err != nil {
		ready("error: " + err.Error())
		fmt.Fprintln(os.Stderr, name+":", err)
		return 1
	}
	return 0
}

var readyOnce bool

func ready(msg string) {
	if readyOnce {
		return
	}
	readyOnce = true
	f := os.NewFile(3, "ready")
	if f == nil {
		return
	}
	fmt.Fprintln(f, msg)
	f.Close()
}

// loopbackOptions returns go-fuse mount options identical to what notifyfs
// mounts with (fusefs.FS.MountOptions with fusefs.DefaultOptions), for a
// plain loopback of src.
func loopbackOptions(src string) (*fs.Options, error) {
	nfs, err := fusefs.New(src, eventbus.New(eventbus.Options{}), fusefs.DefaultOptions(fusefs.IsRoot()))
	if err != nil {
		return nil, err
	}
	o := nfs.MountOptions()
	nfs.Close()
	et, at, nt := *o.EntryTimeout, *o.AttrTimeout, *o.NegativeTimeout
	o.EntryTimeout, o.AttrTimeout, o.NegativeTimeout = &et, &at, &nt
	o.RootStableAttr = nil // the loopback numbers its root itself
	o.MountOptions.Name = "loopback"
	// HANDLE_KILLPRIV_V2 leaves clearing set-id bits and capabilities on
	// write to the daemon; go-fuse's loopback does not do that, so a plain
	// loopback cannot offer it.
	o.MountOptions.ExtraCapabilities &^= fuse.CAP_HANDLE_KILLPRIV_V2
	return o, nil
}

// helperLoopback: __loopback [--debug] [--default-permissions=BOOL] SRC
// MNT — go-fuse's own loopback file system (fs.NewLoopbackRoot) with
// notifyfs's mount options, until SIGTERM. --debug logs every request
// (go-fuse's debug log, to stderr); --default-permissions turns the
// kernel's permission checks on or off (default: as notifyfs mounts).
func helperLoopback(args []string) error {
	set := flag.NewFlagSet("__loopback", flag.ContinueOnError)
	debug := set.Bool("debug", false, "log every FUSE request")
	dp := set.Bool("default-permissions", false, "mount with default_permissions (default: as notifyfs)")
	if err := set.Parse(args); err != nil {
		return err
	}
	if set.NArg() != 2 {
		return fmt.Errorf("usage: __loopback [--debug] [--default-permissions=BOOL] SRC MNT")
	}
	src, mnt := set.Arg(0), set.Arg(1)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	root, err := fs.NewLoopbackRoot(src)
	if err != nil {
		return err
	}
	opts, err := loopbackOptions(src)
	if err != nil {
		return err
	}
	opts.MountOptions.Debug = *debug
	set.Visit(func(f *flag.Flag) {
		if f.Name != "default-permissions" {
			return
		}
		opts.MountOptions.Options = slices.DeleteFunc(opts.MountOptions.Options, func(o string) bool { return o == "default_permissions" })
		if *dp {
			opts.MountOptions.Options = append(opts.MountOptions.Options, "default_permissions")
		}
	})
	server, err := fs.Mount(mnt, root, opts)
	if err != nil {
		return err
	}
	ready(fmt.Sprintf("ok passthrough=%v", server.KernelSettings().Flags64()&fuse.CAP_PASSTHROUGH != 0))
	return serveUntilSignal(server, mnt, sigs)
}

func serveUntilSignal(server *fuse.Server, mnt string, sigs chan os.Signal) error {
	done := make(chan struct{})
	go func() { server.Wait(); close(done) }()
	select {
	case <-sigs:
		if err := mountutil.Unmount(mnt, 5*time.Second, true); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		<-done
	case <-done:
	}
	return nil
}

// helperProfile: __profile SRC MNT SOCK OUT — an in-process notifyfs
// (the same wiring as `notifyfs mount -f`) whose CPU profile is written
// to OUT from mount to SIGTERM.
func helperProfile(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: __profile SRC MNT SOCK OUT")
	}
	src, mnt, sock, out := args[0], args[1], args[2], args[3]
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	d, err := daemon.Start(daemon.Config{
		Source: src, MountPoint: mnt, Journal: "none",
		FS:         fusefs.DefaultOptions(fusefs.IsRoot()),
		Socket:     subscribers.Options{SocketPath: sock},
		Underneath: kqshim.Options{Backend: "off"},
	})
	if err != nil {
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		d.Close()
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		d.Close()
		return err
	}
	ready("ok")
	done := make(chan error, 1)
	go func() { done <- d.Wait() }()
	select {
	case <-sigs:
		err = d.Close()
	case err = <-done:
	}
	pprof.StopCPUProfile()
	return err
}

// synthEvents returns a maker of synthetic create events (~230-byte JSON
// lines), as a writer creating files in a source tree would make them.
func synthEvents() func(i int) *eventbus.Event {
	paths := make([]string, 4096)
	for i := range paths {
		paths[i] = fmt.Sprintf("src/pkg%03d/file_%06d.go", i%97, i)
	}
	return func(i int) *eventbus.Event {
		return &eventbus.Event{
			Type: eventbus.Create, Path: paths[i%len(paths)], HasAttr: true,
			Ino: uint64(1000000 + i), Mode: 0o100644, Size: 4096,
			Pid: 4242, Uid: 1000, Gid: 1000, Comm: "bench-writer", Origin: eventbus.OriginMount,
		}
	}
}

// helperBusRate: __busrate SOCK — a bus and the real subscriber server,
// without a file system. Commands on stdin, one per line: "RATE MS"
// publishes synthetic events at RATE per second (0 = as fast as it can)
// for MS milliseconds and answers "done SEQ ELAPSED_NS"; "quit" ends it.
func helperBusRate(args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: __busrate SOCK")
	}
	bus := eventbus.New(eventbus.Options{})
	srv, err := subscribers.Listen(bus, subscribers.Info{MountPoint: "/bench", Source: "/bench-src", Backend: "off"}, subscribers.Options{SocketPath: args[0]})
	if err != nil {
		return err
	}
	go srv.Serve()
	defer srv.Close()
	defer bus.Close()
	mk := synthEvents()
	ready("ok")
	sc := bufio.NewScanner(os.Stdin)
	n := 0
	for sc.Scan() {
		var rate, ms int
		if sc.Text() == "quit" {
			return nil
		}
		if _, err := fmt.Sscan(sc.Text(), &rate, &ms); err != nil {
			return fmt.Errorf("bad command %q", sc.Text())
		}
		d := time.Duration(ms) * time.Millisecond
		t0 := time.Now()
		sent := 0
		for {
			el := time.Since(t0)
			if el >= d {
				break
			}
			target := sent + 256
			if rate > 0 {
				target = int(el.Seconds() * float64(rate))
			}
			for sent < target {
				bus.Publish(mk(n))
				n++
				sent++
			}
			if rate > 0 {
				time.Sleep(200 * time.Microsecond)
			}
		}
		fmt.Printf("done %d %d\n", bus.Seq(), time.Since(t0).Nanoseconds())
	}
	return sc.Err()
}

// stopHelper ends a helper process that stops when its stdin closes:
// it closes stdin, waits up to grace, then kills it.
func stopHelper(cmd *exec.Cmd, stdin io.Closer, grace time.Duration) {
	stdin.Close()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		cmd.Process.Kill()
		<-done
	}
}
