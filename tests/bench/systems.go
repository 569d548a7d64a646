package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

type sysKind int

const (
	kNative sysKind = iota
	kLoopback
	kBindfs
	kNotifyfs
)

// sysSpec is one system under test.
type sysSpec struct {
	name  string
	kind  sysKind
	subs  int           // notifyfs: subscriber connections receiving everything
	batch time.Duration // notifyfs: the subscribers' batching delay ("batch")
	extra []string      // notifyfs: extra mount flags; loopback: helper flags (--debug, --default-permissions)
}

const (
	sNative   = "native"
	sLoopback = "loopback"
	sBindfs   = "bindfs"
	sNotify0  = "notifyfs"
	sNotify1  = "notifyfs+1sub"
	sNotify10 = "notifyfs+10sub"
	// sNotify1B: one subscriber that lets the daemon hold events up to
	// 10 ms and write them together (subscribe "batch").
	sNotify1B = "notifyfs+1sub-batch"
)

// subBatch is the batching delay of sNotify1B.
const subBatch = 10 * time.Millisecond

// fsSystems are the systems of the file-system workloads, in table order.
func fsSystems(e *env) []sysSpec {
	s := []sysSpec{{name: sNative, kind: kNative}, {name: sLoopback, kind: kLoopback}}
	if e.bindfs != "" {
		s = append(s, sysSpec{name: sBindfs, kind: kBindfs})
	}
	return append(s,
		sysSpec{name: sNotify0, kind: kNotifyfs},
		sysSpec{name: sNotify1, kind: kNotifyfs, subs: 1},
		sysSpec{name: sNotify10, kind: kNotifyfs, subs: 10},
		sysSpec{name: sNotify1B, kind: kNotifyfs, subs: 1, batch: subBatch},
	)
}

// instance is one running system: SOURCE, where to work (the mount
// point, or SOURCE itself for native), and its daemon.
type instance struct {
	spec        sysSpec
	src, mnt    string
	dir         string // where workloads operate
	sock        string
	pid         int // daemon process, 0 for native
	subs        []*subscriber
	passthrough string
	log         string
	stop        func() error
}

// startSystem creates SOURCE (and a mount point) under root and brings
// the system up. Everything it starts is registered for cleanup.
func startSystem(e *env, spec sysSpec, root string) (*instance, error) {
	in := &instance{spec: spec, src: filepath.Join(root, "src"), mnt: filepath.Join(root, "mnt")}
	for _, d := range []string{in.src, in.mnt} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	in.log = filepath.Join(root, "daemon.log")
	var err error
	switch spec.kind {
	case kNative:
		in.dir = in.src
		in.stop = func() error { return nil }
		return in, nil
	case kLoopback:
		args := append(append([]string{"__loopback"}, spec.extra...), in.src, in.mnt)
		err = in.startProcess(e.self, args, true)
	case kBindfs:
		err = in.startProcess(e.bindfs, []string{"-f", in.src, in.mnt}, false)
	case kNotifyfs:
		in.sock = filepath.Join(root, "sock")
		// The journal (on, as by default) lives in the scratch area, not in
		// the machine's /var/lib/notifyfs. The watcher of SOURCE is off
		// unless the system asks for one (a later flag wins): the other
		// sections measure the mount itself, with 1 s cache lifetimes, and
		// a fanotify mark would see every other system's work on the
		// shared ext4.
		args := append([]string{"mount", "-f", "--ready-fd=3", "--socket", in.sock, "--journal", filepath.Join(root, "journal"), "--underneath", "off"}, spec.extra...)
		err = in.startProcess(e.notifyfs, append(args, in.src, in.mnt), true)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.name, err)
	}
	in.dir = in.mnt
	for i := 0; i < spec.subs; i++ {
		s, err := dialSubscriber(in.sock, fmt.Sprintf("bench-%d", i), spec.batch)
		if err != nil {
			in.stop()
			return nil, fmt.Errorf("%s: subscriber %d: %w", spec.name, i, err)
		}
		in.subs = append(in.subs, s)
	}
	return in, nil
}

// startProcess runs a daemon that mounts in.mnt, waits until the mount is
// ready (on a ready pipe as fd 3, or by watching the mount table), and
// registers its shutdown.
func (in *instance) startProcess(bin string, args []string, readyFD bool) error {
	lf, err := os.Create(in.log)
	if err != nil {
		return err
	}
	defer lf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	// Should this process die without cleaning up, the daemon unmounts.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var r, w *os.File
	if readyFD {
		if r, w, err = os.Pipe(); err != nil {
			return err
		}
		defer r.Close()
		cmd.ExtraFiles = []*os.File{w}
	}
	if err := cmd.Start(); err != nil {
		if w != nil {
			w.Close()
		}
		return err
	}
	if w != nil {
		w.Close()
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	in.pid = cmd.Process.Pid
	mnt := in.mnt
	in.stop = atExit("mount "+mnt, func() error {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if isMounted(mnt) {
			if err := unix.Unmount(mnt, 0); err != nil {
				if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
					return fmt.Errorf("unmount %s: %w", mnt, err)
				}
			}
		}
		return nil
	})
	fail := func(err error) error {
		in.stop()
		b, _ := os.ReadFile(in.log)
		return fmt.Errorf("%w\n%s", err, tailLines(string(b), 15))
	}
	if readyFD {
		got := make(chan string, 1)
		go func() { b, _ := io.ReadAll(r); got <- strings.TrimSpace(string(b)) }()
		select {
		case msg := <-got:
			if !strings.HasPrefix(msg, "ok") {
				return fail(fmt.Errorf("not ready: %q", msg))
			}
			in.passthrough = strings.TrimPrefix(strings.TrimPrefix(msg, "ok"), " ")
		case <-time.After(30 * time.Second):
			return fail(fmt.Errorf("not ready after 30s"))
		}
	} else {
		deadline := time.Now().Add(30 * time.Second)
		for !isMounted(mnt) {
			select {
			case <-exited:
				return fail(fmt.Errorf("exited before mounting"))
			default:
			}
			if time.Now().After(deadline) {
				return fail(fmt.Errorf("not mounted after 30s"))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if in.spec.kind == kNotifyfs {
		b, _ := os.ReadFile(in.log)
		if strings.Contains(string(b), "passthrough unavailable") {
			in.passthrough = "passthrough=false"
		} else {
			in.passthrough = "passthrough=true"
		}
	}
	return nil
}

// close disconnects subscribers (checking they lost nothing) and stops
// the daemon.
func (in *instance) close() error {
	var errs []string
	for _, s := range in.subs {
		if err := s.verify(); err != nil {
			errs = append(errs, err.Error())
		}
		s.c.Close()
	}
	in.subs = nil
	if err := in.stop(); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %s", in.spec.name, strings.Join(errs, "; "))
	}
	return nil
}

// cpu returns the CPU time (user+system) the daemon has used so far.
func (in *instance) cpu() time.Duration {
	if in.pid == 0 {
		return 0
	}
	return procCPU(in.pid)
}

// switches returns how many times the daemon's threads have been
// switched out so far (voluntary and involuntary context switches).
func (in *instance) switches() int64 {
	if in.pid == 0 {
		return 0
	}
	return procSwitches(in.pid)
}

// procSwitches sums voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches over the threads of a process (a Go daemon
// keeps its threads, so none of its counts leave with an exited one).
func procSwitches(pid int) int64 {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}

// procCPU reads utime+stime of a process from /proc/PID/stat.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// fields after ")": state(0) ppid(1) ... utime(11) stime(12)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// procMem returns VmRSS and VmHWM of a process in bytes.
func procMem(pid int) (rss, hwm int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		var kb int64
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			rss = kb << 10
		} else if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
			hwm = kb << 10
		}
	}
	return rss, hwm
}

func tailLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// subscriber is one client connection receiving every change event. It
// counts what arrives and notices any loss: a gap in seq or an overflow
// event.
type subscriber struct {
	c     *client.Client
	name  string
	start uint64

	last     atomic.Uint64 // highest seq received
	count    atomic.Uint64
	gaps     atomic.Uint64
	overflow atomic.Uint64
	done     chan struct{}

	// onEvent, if set, sees every event as it arrives (latency runs).
	mu      sync.Mutex
	onEvent func(e *eventbus.Event, at time.Time)
}

func dialSubscriber(sock, name string, batch time.Duration) (*subscriber, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, sock)
	if err != nil {
		return nil, err
	}
	r, err := c.Subscribe(ctx, client.SubscribeRequest{Name: name, Batch: batch})
	if err != nil {
		c.Close()
		return nil, err
	}
	s := &subscriber{c: c, name: name, start: r.Seq, done: make(chan struct{})}
	s.last.Store(r.Seq)
	go s.drain()
	return s, nil
}

func (s *subscriber) drain() {
	defer close(s.done)
	for e := range s.c.Events() {
		at := time.Now()
		s.mu.Lock()
		f := s.onEvent
		s.mu.Unlock()
		if f != nil {
			f(&e, at)
		}
		switch {
		case e.Type == eventbus.Overflow || e.Type == eventbus.Reset:
			s.overflow.Add(1)
		case e.Seq != 0:
			if e.Seq != s.last.Load()+1 {
				s.gaps.Add(1)
			}
			s.last.Store(e.Seq)
			s.count.Add(1)
		}
	}
}

func (s *subscriber) setOnEvent(f func(e *eventbus.Event, at time.Time)) {
	s.mu.Lock()
	s.onEvent = f
	s.mu.Unlock()
}

// catchUp issues a sync and waits until every event up to its seq has
// been received.
func (s *subscriber) catchUp(limit time.Duration) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	seq, err := s.c.Sync(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: sync: %w", s.name, err)
	}
	for s.last.Load() < seq {
		select {
		case <-ctx.Done():
			return seq, fmt.Errorf("%s: events up to %d not received within %v (at %d)", s.name, seq, limit, s.last.Load())
		case <-s.done:
			return seq, fmt.Errorf("%s: connection ended at %d: %v", s.name, s.last.Load(), s.c.Err())
		case <-time.After(200 * time.Microsecond):
		}
	}
	return seq, nil
}

// verify catches up and checks that nothing was lost since subscribing.
func (s *subscriber) verify() error {
	if _, err := s.catchUp(60 * time.Second); err != nil {
		return err
	}
	last, count := s.last.Load(), s.count.Load()
	if g, o := s.gaps.Load(), s.overflow.Load(); g != 0 || o != 0 || count != last-s.start {
		return fmt.Errorf("%s: lost events: received %d of %d, %d gaps, %d overflow/reset", s.name, count, last-s.start, g, o)
	}
	return nil
}

// catchUpAll brings every subscriber of in up to date and returns how
// long that took.
func (in *instance) catchUpAll() (time.Duration, error) {
	t0 := time.Now()
	for _, s := range in.subs {
		if _, err := s.catchUp(120 * time.Second); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

// received is the number of events the subscribers have received in all.
func (in *instance) received() uint64 {
	var n uint64
	for _, s := range in.subs {
		n += s.count.Load()
	}
	return n
}
