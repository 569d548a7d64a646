package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// A backlog of events published while nobody listens, then replayed from
// its start: to `notifyfs watch --since EPOCH:SEQ --format json` (the real
// binary, its output on a pipe whose lines the benchmark counts) and to the
// Go client subscribing with the same cursor.

const (
	blWatch  = "`notifyfs watch --since EPOCH:SEQ --format json` → pipe"
	blClient = "Go client (`subscribers/client`, `Since` = the cursor)"
)

var backlogReaders = []string{blWatch, blClient}

// backlogRun is one replay of the whole backlog to one reader.
type backlogRun struct {
	reader string
	got    int           // events received
	lost   int           // missing seqs, overflow or reset events
	dur    time.Duration // from starting the reader to the last event
	rate   float64       // events/s
}

type backlogResult struct {
	n     int    // events in the backlog
	epoch string // the bus's epoch
	from  uint64 // cursor: the replay starts after this seq
	to    uint64 // the last seq of the backlog
	made  time.Duration
	runs  []backlogRun
}

func (b *backlogResult) rates(reader string) (rates []float64, lost int, rounds int) {
	for _, r := range b.runs {
		if r.reader == reader {
			rates = append(rates, r.rate)
			lost += r.lost
			rounds++
		}
	}
	return rates, lost, rounds
}

// runBacklog starts the backlog helper (a bus with the daemon's defaults
// and its journal, and the real socket server), which publishes the
// backlog before anyone connects, and replays it cfg.runs times to each
// reader, taking turns.
func runBacklog(cfg *config, e *env, rep *report) error {
	dir := filepath.Join(e.data, "backlog")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	sock := filepath.Join(dir, "sock")
	cmd := exec.Command(e.self, "__backlog", sock, filepath.Join(dir, "journal"), fmt.Sprint(cfg.backlog))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.ExtraFiles = []*os.File{w}
	logf("backlog: publishing %s events with nobody listening", kfmt(cfg.backlog))
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		w.Close()
		r.Close()
		return err
	}
	w.Close()
	stop := atExit("backlog helper", func() error {
		stopHelper(cmd, stdin, 10*time.Second)
		return nil
	})
	defer stop()
	msg, _ := io.ReadAll(r)
	r.Close()
	res := &backlogResult{n: cfg.backlog, made: time.Since(t0)}
	if _, err := fmt.Sscanf(strings.TrimSpace(string(msg)), "ok %s %d %d", &res.epoch, &res.from, &res.to); err != nil {
		return fmt.Errorf("backlog helper: %q", msg)
	}
	if int(res.to-res.from) != cfg.backlog {
		return fmt.Errorf("backlog helper published seqs %d..%d, want %d events", res.from+1, res.to, cfg.backlog)
	}
	rep.backlog = res
	for round := 0; round < cfg.runs; round++ {
		for _, rd := range rotate(backlogReaders, round) {
			var run backlogRun
			var err error
			if rd == blWatch {
				run, err = replayWatch(e, sock, dir, res)
			} else {
				run, err = replayClient(sock, res)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", rd, err)
			}
			run.reader = rd
			run.rate = float64(run.got) / run.dur.Seconds()
			res.runs = append(res.runs, run)
			logf("  backlog replay %-8s %s of %s events in %v: %.0f events/s, %d lost", map[string]string{blWatch: "watch", blClient: "client"}[rd],
				kfmt(run.got), kfmt(res.n), run.dur.Round(time.Millisecond), run.rate, run.lost)
		}
	}
	return nil
}

// replayWatch runs the real `notifyfs watch` from the backlog's start and
// counts its JSON lines until the last seq of the backlog has come.
func replayWatch(e *env, sock, dir string, res *backlogResult) (backlogRun, error) {
	var run backlogRun
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.notifyfs, "watch", "--socket", sock, "--since", fmt.Sprintf("%s:%d", res.epoch, res.from),
		"--format", "json", "--count", fmt.Sprint(res.n), "--name", "bench-backlog", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return run, err
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return run, err
	}
	br := bufio.NewReaderSize(stdout, 1<<20)
	last := res.from
	var tEnd time.Time
	for {
		l, err := br.ReadSlice('\n')
		if err != nil {
			if err == bufio.ErrBufferFull {
				return run, fmt.Errorf("a line longer than 1 MiB")
			}
			break
		}
		if i := bytes.Index(l, []byte(`"seq":`)); i >= 0 {
			seq := parseUint(l[i+6:])
			if seq != last+1 {
				run.lost += int(seq - last - 1)
			}
			last = seq
			run.got++
			if seq >= res.to {
				tEnd = time.Now()
			}
		} else if bytes.Contains(l, []byte(`"type":"overflow"`)) || bytes.Contains(l, []byte(`"type":"reset"`)) {
			run.lost++
		}
	}
	werr := cmd.Wait()
	if werr != nil {
		return run, fmt.Errorf("%v after %d events: %s", werr, run.got, tailLines(errOut.String(), 5))
	}
	if tEnd.IsZero() {
		return run, fmt.Errorf("the stream ended at seq %d of %d (%d events)", last, res.to, run.got)
	}
	run.dur = tEnd.Sub(t0)
	return run, nil
}

// replayClient subscribes with the Go client from the backlog's start and
// receives until the last seq of the backlog has come.
func replayClient(sock string, res *backlogResult) (backlogRun, error) {
	var run backlogRun
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	c, err := client.Dial(ctx, sock)
	if err != nil {
		return run, err
	}
	defer c.Close()
	if _, err := c.Subscribe(ctx, client.SubscribeRequest{Name: "bench-backlog", Since: &eventbus.Cursor{Epoch: res.epoch, Seq: res.from}}); err != nil {
		return run, err
	}
	last := res.from
	events := c.Events()
	for last < res.to {
		select {
		case <-ctx.Done():
			return run, fmt.Errorf("at seq %d of %d after %v", last, res.to, time.Since(t0).Round(time.Second))
		case ev, ok := <-events:
			if !ok {
				return run, fmt.Errorf("the stream ended at seq %d of %d: %v", last, res.to, c.Err())
			}
			switch {
			case ev.Type == eventbus.Overflow || ev.Type == eventbus.Reset:
				run.lost++
			case ev.Seq != 0:
				if ev.Seq != last+1 {
					run.lost += int(ev.Seq - last - 1)
				}
				last = ev.Seq
				run.got++
			}
		}
	}
	run.dur = time.Since(t0)
	return run, nil
}

// helperBacklog: __backlog SOCK JOURNAL N — a bus with the daemon's
// defaults (ring, budget) and a journal in JOURNAL, and the real socket
// server; publishes N synthetic events before serving anyone, answers
// "ok EPOCH FROM TO" on fd 3 and serves until stdin closes or SIGTERM.
func helperBacklog(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("usage: __backlog SOCK JOURNAL N")
	}
	var n int
	if _, err := fmt.Sscan(args[2], &n); err != nil || n <= 0 {
		return fmt.Errorf("bad N %q", args[2])
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	bus, err := eventbus.OpenBus(eventbus.Options{Journal: eventbus.JournalOptions{Dir: args[1]}})
	if err != nil {
		return err
	}
	defer bus.Close()
	from := bus.Seq()
	mk := synthEvents()
	for i := 0; i < n; i++ {
		bus.Publish(mk(i))
	}
	srv, err := subscribers.Listen(bus, subscribers.Info{MountPoint: "/bench", Source: "/bench-src", Backend: "off"}, subscribers.Options{SocketPath: args[0]})
	if err != nil {
		return err
	}
	go srv.Serve()
	defer srv.Close()
	ready(fmt.Sprintf("ok %s %d %d", bus.Epoch(), from, bus.Seq()))
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
	select {
	case <-sigs:
	case <-done:
	}
	return nil
}

// backlogTargets: one row per reader, goal ≥ 200k events/s, nothing lost.
func (r *report) backlogTargets() []target {
	var ts []target
	for _, rd := range backlogReaders {
		what := "backlog replayed from the start, none lost: " + rd
		t := target{what: what, goal: goalEventRateText, measured: "–", met: notMeasured}
		b := r.backlog
		if b != nil {
			t.what = fmt.Sprintf("backlog of %s events replayed from the start, none lost: %s", kfmt(b.n), rd)
		}
		rates, lost, rounds := []float64(nil), 0, 0
		if b != nil {
			rates, lost, rounds = b.rates(rd)
		}
		switch {
		case rounds == 0 && r.backlogErr != "":
			t.measured = "– (failed: " + mdOneLine(r.backlogErr) + ")"
		case rounds > 0:
			s := summarize(rates)
			t.measured = fmt.Sprintf("%s events/s, %d lost in %d rounds", kfmtCell(s), lost, rounds)
			t.met = verdict(lost == 0 && s.med >= goalEventRate)
			if rounds < r.cfg.runs && r.backlogErr != "" {
				t.measured += " (then failed: " + mdOneLine(r.backlogErr) + ")"
			}
		}
		ts = append(ts, t)
	}
	return ts
}

// mdOneLine makes text fit in a table cell: one line, no pipes.
func mdOneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "\\|")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func (r *report) mdBacklog(p printer) {
	b := r.backlog
	if b == nil && r.backlogErr == "" {
		return
	}
	p("**A backlog replayed from the start.** ")
	if b == nil {
		p("Not measured: %s\n\n", mdOneLine(r.backlogErr))
		return
	}
	p("A bus with the daemon's defaults (ring of 262144 events within a 64 MiB budget, journal on) and the real socket server, in a helper process, publish %s synthetic `create` events (as above) while nobody is subscribed (the helper's start and the publishing took %v); then the whole backlog is replayed from its start, cursor `EPOCH:%d`, %d times to each of two readers, taking turns: ", kfmt(b.n), b.made.Round(time.Millisecond), b.from, r.cfg.runs)
	p("the real `notifyfs watch --socket SOCK --since EPOCH:%d --format json --count %d` with its standard output on a pipe the benchmark reads and counts lines of, timed from starting the command (process start, connect, subscribe included) to the line of the backlog's last seq; and the Go client (`subscribers/client`: `Dial`, `Subscribe` with `Since` = the same cursor, events read from `Events()`), timed from `Dial` to the last seq. Every seq must arrive once, in order, with no `overflow` or `reset`.\n\n", b.from, b.n)
	p("| reader | events/s (median, min–max) | time ms | received | lost |\n|---|---|---|---|---|\n")
	for _, rd := range backlogReaders {
		var rates, ms []float64
		got, lost := 0, 0
		for _, run := range b.runs {
			if run.reader == rd {
				rates = append(rates, run.rate)
				ms = append(ms, float64(run.dur)/1e6)
				got += run.got
				lost += run.lost
			}
		}
		if len(rates) == 0 {
			p("| %s | – | – | – | – |\n", rd)
			continue
		}
		p("| %s | %s | %s | %d of %d | %d |\n", rd, kfmtCell(summarize(rates)), cell(summarize(ms)), got, b.n*len(rates), lost)
	}
	p("\n")
	if r.backlogErr != "" {
		p("The replay failed after these rounds: %s\n\n", mdOneLine(r.backlogErr))
	}
}
