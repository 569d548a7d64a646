package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// latRun is one latency run of one system: the latency of every event
// (µs, receive time minus the creating call's return; negative when the
// event arrived before the call returned).
type latRun struct {
	sys     string
	samples []float64
	missing int
}

// Latency systems.
const (
	lNotify1  = "notifyfs, 1 subscriber"
	lNotify10 = "notifyfs, 10 subscribers (all of them)"
	lInotify  = "inotifywait on native SOURCE"
)

// runLatency measures operation return → event received, paced.
func runLatency(cfg *config, e *env, rep *report) error {
	systems := []string{lNotify1, lNotify10}
	if e.inotifywait != "" {
		systems = append(systems, lInotify)
	} else {
		rep.notes = append(rep.notes, "inotify latency not measured: "+e.inotifyWhy)
	}
	rep.latSystems = systems
	rep.latOps, rep.latPace = cfg.latOps, cfg.latPace
	for r := 0; r < cfg.runs; r++ {
		for _, sys := range rotate(systems, r) {
			var lr *latRun
			var err error
			root := filepath.Join(e.data, "lat", fmt.Sprintf("%d-%d", r, slices.Index(systems, sys)))
			switch sys {
			case lNotify1:
				lr, err = latencyNotifyfs(e, root, 1, cfg)
			case lNotify10:
				lr, err = latencyNotifyfs(e, root, 10, cfg)
			case lInotify:
				lr, err = latencyInotifywait(e, root, cfg)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", sys, err)
			}
			lr.sys = sys
			slices.Sort(lr.samples)
			logf("  latency %-40s p50 %7.1f µs  p99 %7.1f µs  p99.9 %7.1f µs  (%d samples, %d missing)", sys,
				percentile(lr.samples, 50), percentile(lr.samples, 99), percentile(lr.samples, 99.9), len(lr.samples), lr.missing)
			rep.lat = append(rep.lat, lr)
			os.RemoveAll(root)
		}
	}
	return nil
}

// pacedCreates creates ops files in dir, one per pace, and returns the
// return time of each create.
func pacedCreates(dir string, ops int, pace time.Duration) ([]time.Time, error) {
	ret := make([]time.Time, ops)
	next := time.Now()
	for i := 0; i < ops; i++ {
		fd, err := unix.Open(filepath.Join(dir, "f"+strconv.Itoa(i)), unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		ret[i] = time.Now()
		if err != nil {
			return nil, err
		}
		unix.Close(fd)
		next = next.Add(pace)
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	return ret, nil
}

func latencyNotifyfs(e *env, root string, subs int, cfg *config) (*latRun, error) {
	in, err := startSystem(e, sysSpec{name: "notifyfs-lat", kind: kNotifyfs, subs: subs}, root)
	if err != nil {
		return nil, err
	}
	defer in.close()
	dir := filepath.Join(in.dir, "lat")
	if err := unix.Mkdir(dir, 0o755); err != nil {
		return nil, err
	}
	if _, err := in.catchUpAll(); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	recv := make([]map[string]time.Time, subs)
	for i, s := range in.subs {
		recv[i] = make(map[string]time.Time, cfg.latOps)
		m := recv[i]
		s.setOnEvent(func(ev *eventbus.Event, at time.Time) {
			if ev.Type == eventbus.Create {
				mu.Lock()
				m[ev.Path] = at
				mu.Unlock()
			}
		})
	}
	ret, err := pacedCreates(dir, cfg.latOps, cfg.latPace)
	if err != nil {
		return nil, err
	}
	if _, err := in.catchUpAll(); err != nil {
		return nil, err
	}
	lr := &latRun{}
	mu.Lock()
	defer mu.Unlock()
	for i := range ret {
		p := "lat/f" + strconv.Itoa(i)
		for _, m := range recv {
			at, ok := m[p]
			if !ok {
				lr.missing++
				continue
			}
			lr.samples = append(lr.samples, float64(at.Sub(ret[i]))/1e3)
		}
	}
	return lr, in.close()
}

func latencyInotifywait(e *env, root string, cfg *config) (*latRun, error) {
	dir := filepath.Join(root, "lat")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(e.inotifywait, "-m", "-r", "-e", "create", "--format", "%w%f", dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := atExit("inotifywait", func() error { cmd.Process.Kill(); cmd.Wait(); return nil })
	defer stop()
	established := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Watches established") {
				established <- nil
				break
			}
		}
		established <- fmt.Errorf("inotifywait ended before establishing its watches")
		for sc.Scan() {
		}
	}()
	select {
	case err := <-established:
		if err != nil {
			return nil, err
		}
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("inotifywait: no watches after 10s")
	}
	var mu sync.Mutex
	recv := make(map[string]time.Time, cfg.latOps)
	all := make(chan struct{})
	go func() {
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			at := time.Now()
			if err != nil {
				return
			}
			mu.Lock()
			recv[strings.TrimSuffix(line, "\n")] = at
			n := len(recv)
			mu.Unlock()
			if n == cfg.latOps {
				close(all)
			}
		}
	}()
	ret, err := pacedCreates(dir, cfg.latOps, cfg.latPace)
	if err != nil {
		return nil, err
	}
	select {
	case <-all:
	case <-time.After(10 * time.Second):
	}
	lr := &latRun{}
	mu.Lock()
	defer mu.Unlock()
	for i := range ret {
		at, ok := recv[filepath.Join(dir, "f"+strconv.Itoa(i))]
		if !ok {
			lr.missing++
			continue
		}
		lr.samples = append(lr.samples, float64(at.Sub(ret[i]))/1e3)
	}
	return lr, nil
}
