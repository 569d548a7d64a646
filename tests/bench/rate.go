package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
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
)

// rateStep is one offered rate of the bus → socket → client path.
type rateStep struct {
	offered   float64 // events/s asked for (0 = as fast as the publisher goes)
	published float64 // events/s the publisher achieved
	delivered float64 // events/s received, start to last event received
	lost      int64
	drain     time.Duration // after the publisher stopped, until all received
}

// fsRate is events driven through a file system by two writer threads.
type fsRate struct {
	sys       string
	events    int64
	rate      float64 // events/s received
	opsRate   float64 // mkdir/s the writers achieved
	lost      int64
	overflows int
}

// burstResult is a burst made while the reader does not read.
type burstResult struct {
	sys       string
	made      int
	received  int
	lost      int
	overflows int
}

func runRate(cfg *config, e *env, rep *report) error {
	rates := []float64{100e3, 200e3, 300e3, 400e3, 0}
	if cfg.quick {
		rates = []float64{100e3, 200e3, 400e3}
	}
	rep.rateDur = cfg.rateDur
	rep.rateSteps = map[string][][]rateStep{rateClient: make([][]rateStep, len(rates)), rateRaw: make([][]rateStep, len(rates))}
	if err := busRate(e, cfg, rates, rep); err != nil {
		return fmt.Errorf("bus rate: %w", err)
	}
	// A backlog replayed from its start; a failure here is reported in
	// its rows and does not stop the section.
	if err := runBacklog(cfg, e, rep); err != nil {
		logf("backlog replay: %v", err)
		rep.backlogErr = err.Error()
	}
	// Driven through the file system: notifyfs vs inotify, alternating.
	for r := 0; r < cfg.runs; r++ {
		for _, sys := range rotate([]string{"notifyfs", "inotify"}, r) {
			root := filepath.Join(e.data, "rate", fmt.Sprintf("%s-%d", sys, r))
			var res *fsRate
			var err error
			if sys == "notifyfs" {
				res, err = fsRateNotifyfs(e, root, cfg.rateDur)
			} else {
				res, err = fsRateInotify(root, cfg.rateDur)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", sys, err)
			}
			logf("  fs-driven %-9s %8.0f events/s received (%d events, %d lost, %d overflows)", sys, res.rate, res.events, res.lost, res.overflows)
			rep.fsRates = append(rep.fsRates, res)
			os.RemoveAll(root)
		}
	}
	// A burst while the reader is not reading: inotify's queue overflows
	// at max_queued_events, notifyfs's subscriber catches up from the ring.
	for _, sys := range []string{"inotify", "notifyfs"} {
		root := filepath.Join(e.data, "burst-"+sys)
		var res *burstResult
		var err error
		if sys == "notifyfs" {
			res, err = burstNotifyfs(e, root, cfg.burst)
		} else {
			res, err = burstInotify(root, cfg.burst)
		}
		if err != nil {
			return fmt.Errorf("burst %s: %w", sys, err)
		}
		logf("  burst %-9s made %d, received %d, lost %d, overflow events %d", sys, res.made, res.received, res.lost, res.overflows)
		rep.bursts = append(rep.bursts, res)
		os.RemoveAll(root)
	}
	return nil
}

// busRate offers synthetic events at fixed rates to the real bus and
// socket server (in a helper process) and receives them with the Go
// client, as a subscriber would.
func busRate(e *env, cfg *config, rates []float64, rep *report) error {
	dir := filepath.Join(e.scratch, "busrate")
	os.MkdirAll(dir, 0o755)
	sock := filepath.Join(dir, "sock")
	cmd := exec.Command(e.self, "__busrate", sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		return err
	}
	w.Close()
	rep.busPid = cmd.Process.Pid
	stop := atExit("busrate", func() error {
		stopHelper(cmd, stdin, 5*time.Second)
		return nil
	})
	defer stop()
	msg, _ := io.ReadAll(r)
	r.Close()
	if !strings.HasPrefix(string(msg), "ok") {
		return fmt.Errorf("helper not ready: %s", msg)
	}
	sub, err := dialSubscriber(sock, "rate", 0)
	if err != nil {
		return err
	}
	defer sub.c.Close()
	raw, err := dialRaw(sock)
	if err != nil {
		return err
	}
	defer raw.close()
	readers := []struct {
		kind        string
		last, count func() uint64
	}{
		{rateClient, sub.last.Load, sub.count.Load},
		{rateRaw, raw.last.Load, raw.count.Load},
	}
	out := bufio.NewReader(stdout)
	for round := 0; round < cfg.runs; round++ {
		for i, rate := range rates {
			for _, rd := range rotate(readers, round+i) {
				before, cnt0 := rd.last(), rd.count()
				t0 := time.Now()
				fmt.Fprintf(stdin, "%d %d\n", int(rate), cfg.rateDur.Milliseconds())
				line, err := out.ReadString('\n')
				if err != nil {
					return fmt.Errorf("helper: %v", err)
				}
				tPub := time.Now()
				var seq, ns int64
				if _, err := fmt.Sscanf(line, "done %d %d", &seq, &ns); err != nil {
					return fmt.Errorf("helper said %q", line)
				}
				deadline := time.Now().Add(120 * time.Second)
				for rd.last() < uint64(seq) && time.Now().Before(deadline) {
					time.Sleep(100 * time.Microsecond)
				}
				tEnd := time.Now()
				// The other reader receives the same events; let it
				// finish before the next step.
				for _, o := range readers {
					for o.last() < uint64(seq) && time.Now().Before(deadline) {
						time.Sleep(100 * time.Microsecond)
					}
				}
				published := seq - int64(before)
				got := int64(rd.count() - cnt0)
				st := rateStep{
					offered:   rate,
					published: float64(published) / (float64(ns) / 1e9),
					delivered: float64(got) / tEnd.Sub(t0).Seconds(),
					lost:      published - got,
					drain:     tEnd.Sub(tPub),
				}
				rep.rateSteps[rd.kind][i] = append(rep.rateSteps[rd.kind][i], st)
				logf("  bus rate %-6s offered %7.0f/s: published %7.0f/s, delivered %7.0f/s, lost %d, drain %v", rd.kind, rate, st.published, st.delivered, st.lost, st.drain.Round(time.Millisecond))
			}
		}
	}
	fmt.Fprintln(stdin, "quit")
	return nil
}

const (
	rateClient = "client"
	rateRaw    = "raw"
)

// rawSub is a subscriber that only splits lines and reads the seq: the
// cheapest possible client, to tell the server's limit from the Go
// client's.
type rawSub struct {
	nc       net.Conn
	last     atomic.Uint64
	count    atomic.Uint64
	overflow atomic.Uint64
	done     chan struct{}
}

func dialRaw(sock string) (*rawSub, error) {
	nc, err := net.Dial("unix", sock)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 1<<20)
	if _, err := br.ReadSlice('\n'); err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := io.WriteString(nc, `{"id":1,"op":"subscribe","since":"now"}`+"\n"); err != nil {
		nc.Close()
		return nil, err
	}
	l, err := br.ReadSlice('\n')
	if err != nil || !bytes.Contains(l, []byte(`"ok":true`)) {
		nc.Close()
		return nil, fmt.Errorf("subscribe: %q %v", l, err)
	}
	var seq uint64
	if i := bytes.Index(l, []byte(`"seq":`)); i >= 0 {
		seq = parseUint(l[i+6:])
	}
	r := &rawSub{nc: nc, done: make(chan struct{})}
	r.last.Store(seq)
	go func() {
		defer close(r.done)
		for {
			l, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if bytes.HasPrefix(l, []byte(`{"seq":`)) {
				r.last.Store(parseUint(l[7:]))
				r.count.Add(1)
			} else if bytes.Contains(l, []byte(`"type":"overflow"`)) {
				r.overflow.Add(1)
			}
		}
	}()
	return r, nil
}

func parseUint(b []byte) uint64 {
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

func (r *rawSub) close() {
	r.nc.Close()
	<-r.done
}

// mkdirStorm runs two writers making directories in dir for d and
// returns how many they made.
func mkdirStorm(dir string, d time.Duration) (int64, time.Duration, error) {
	var n atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	t0 := time.Now()
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			sub := filepath.Join(dir, "w"+strconv.Itoa(w))
			for i := 0; time.Since(t0) < d; i++ {
				if err := unix.Mkdir(filepath.Join(sub, strconv.Itoa(i)), 0o755); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				n.Add(1)
			}
		}(w)
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, 0, err
	}
	return n.Load(), time.Since(t0), nil
}

func fsRateNotifyfs(e *env, root string, d time.Duration) (*fsRate, error) {
	in, err := startSystem(e, sysSpec{name: "notifyfs-rate", kind: kNotifyfs, subs: 1}, root)
	if err != nil {
		return nil, err
	}
	defer in.close()
	for _, w := range []string{"w0", "w1"} {
		if err := unix.Mkdir(filepath.Join(in.dir, w), 0o755); err != nil {
			return nil, err
		}
	}
	s := in.subs[0]
	if _, err := s.catchUp(10 * time.Second); err != nil {
		return nil, err
	}
	c0 := s.count.Load()
	t0 := time.Now()
	made, el, err := mkdirStorm(in.dir, d)
	if err != nil {
		return nil, err
	}
	if _, err := s.catchUp(60 * time.Second); err != nil {
		return nil, err
	}
	total := time.Since(t0)
	got := int64(s.count.Load() - c0)
	res := &fsRate{sys: "notifyfs (1 subscriber)", events: got, rate: float64(got) / total.Seconds(), opsRate: float64(made) / el.Seconds(),
		lost: made - got, overflows: int(s.overflow.Load())}
	return res, in.close()
}

// inotifyReader reads a Go inotify instance watching dirs, counting
// events and overflows, until stopped.
type inotifyReader struct {
	fd        int
	events    atomic.Int64
	overflows atomic.Int64
	stop      atomic.Bool
	done      chan struct{}
}

func newInotify(dirs ...string) (*inotifyReader, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if _, err := unix.InotifyAddWatch(fd, d, unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_MODIFY|unix.IN_ATTRIB); err != nil {
			unix.Close(fd)
			return nil, err
		}
	}
	return &inotifyReader{fd: fd, done: make(chan struct{})}, nil
}

// run reads until stop is set and the queue is empty.
func (ir *inotifyReader) run() {
	defer close(ir.done)
	buf := make([]byte, 256<<10)
	for {
		n, err := unix.Read(ir.fd, buf)
		if err == unix.EAGAIN {
			if ir.stop.Load() {
				return
			}
			unix.Poll([]unix.PollFd{{Fd: int32(ir.fd), Events: unix.POLLIN}}, 20)
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			l := binary.NativeEndian.Uint32(buf[off+12:])
			if mask&unix.IN_Q_OVERFLOW != 0 {
				ir.overflows.Add(1)
			} else {
				ir.events.Add(1)
			}
			off += unix.SizeofInotifyEvent + int(l)
		}
	}
}

func (ir *inotifyReader) finish() {
	ir.stop.Store(true)
	<-ir.done
	unix.Close(ir.fd)
}

func fsRateInotify(root string, d time.Duration) (*fsRate, error) {
	var dirs []string
	for _, w := range []string{"w0", "w1"} {
		p := filepath.Join(root, w)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return nil, err
		}
		dirs = append(dirs, p)
	}
	ir, err := newInotify(dirs...)
	if err != nil {
		return nil, err
	}
	go ir.run()
	t0 := time.Now()
	made, el, err := mkdirStorm(root, d)
	if err != nil {
		ir.finish()
		return nil, err
	}
	ir.finish()
	total := time.Since(t0)
	got := ir.events.Load()
	return &fsRate{sys: "inotify (Go reader, native)", events: got, rate: float64(got) / total.Seconds(), opsRate: float64(made) / el.Seconds(),
		lost: made - got, overflows: int(ir.overflows.Load())}, nil
}

func burstInotify(root string, k int) (*burstResult, error) {
	dir := filepath.Join(root, "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ir, err := newInotify(dir)
	if err != nil {
		return nil, err
	}
	for i := 0; i < k; i++ { // the reader is not reading yet
		if err := unix.Mkdir(filepath.Join(dir, strconv.Itoa(i)), 0o755); err != nil {
			unix.Close(ir.fd)
			return nil, err
		}
	}
	go ir.run()
	ir.finish()
	got := int(ir.events.Load())
	return &burstResult{sys: "inotify", made: k, received: got, lost: k - got, overflows: int(ir.overflows.Load())}, nil
}

// burstNotifyfs subscribes over a raw socket connection and reads nothing
// while the burst is made through the mount; then it reads everything.
func burstNotifyfs(e *env, root string, k int) (*burstResult, error) {
	in, err := startSystem(e, sysSpec{name: "notifyfs-burst", kind: kNotifyfs}, root)
	if err != nil {
		return nil, err
	}
	defer in.close()
	dir := filepath.Join(in.dir, "b")
	if err := unix.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	nc, err := net.Dial("unix", in.sock)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	br := bufio.NewReaderSize(nc, 1<<20)
	if _, err := br.ReadBytes('\n'); err != nil { // hello
		return nil, err
	}
	if _, err := io.WriteString(nc, `{"id":1,"op":"subscribe","since":"now"}`+"\n"); err != nil {
		return nil, err
	}
	if l, err := br.ReadBytes('\n'); err != nil || !bytes.Contains(l, []byte(`"ok":true`)) {
		return nil, fmt.Errorf("subscribe: %q %v", l, err)
	}
	for i := 0; i < k; i++ { // the subscriber is not reading
		if err := unix.Mkdir(filepath.Join(dir, strconv.Itoa(i)), 0o755); err != nil {
			return nil, err
		}
	}
	if _, err := io.WriteString(nc, `{"id":2,"op":"sync"}`+"\n"); err != nil {
		return nil, err
	}
	nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	res := &burstResult{sys: "notifyfs", made: k}
	for {
		l, err := br.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("reading the stream: %w", err)
		}
		if bytes.HasPrefix(l, []byte(`{"op":`)) {
			if bytes.Contains(l, []byte(`"op":"sync"`)) {
				break
			}
			continue
		}
		switch {
		case bytes.Contains(l, []byte(`"type":"overflow"`)):
			res.overflows++
		case bytes.Contains(l, []byte(`"type":"mkdir"`)):
			res.received++
		}
	}
	res.lost = k - res.received
	return res, in.close()
}
