//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The driver: `uringproto bench` runs the server as a child process per
// mount, the loops in this process, and alternates the systems within
// every round so that the machine's noise hits them alike.

const enableUring = "/sys/module/fuse/parameters/enable_uring"

type benchCfg struct {
	n         int
	par       int
	rounds    int
	systems   []string
	backend   string
	base      string
	ttl       time.Duration
	workers   int
	depth     int
	pin       bool
	ringFlags string
}

// cleanup state, for the signal handler too.
var (
	cleanMu     sync.Mutex
	curMnt      string
	curDir      string // the round's temporary directory
	curChild    *exec.Cmd
	uringBefore string // "" when untouched
	stopping    atomic.Bool
)

func cleanupAll() {
	cleanMu.Lock()
	defer cleanMu.Unlock()
	if curChild != nil && curChild.Process != nil {
		curChild.Process.Signal(syscall.SIGTERM)
	}
	if curMnt != "" {
		unmount(curMnt)
	}
	if curChild != nil {
		// Give the server its moment to see the unmount and exit.
		done := make(chan struct{})
		go func(c *exec.Cmd) { c.Wait(); close(done) }(curChild)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
		}
		curChild = nil
	}
	if curDir != "" && !isMounted(curMnt) {
		os.RemoveAll(curDir)
		curDir = ""
	}
	if uringBefore != "" {
		os.WriteFile(enableUring, []byte(uringBefore), 0o644)
		uringBefore = ""
	}
}

type result struct {
	createUs, statUs float64 // per operation
	createReqs       counts  // requests during the create loop
	statReqs         counts
}

func benchMain(args []string) error {
	var c benchCfg
	fl := flag.NewFlagSet("bench", flag.ExitOnError)
	fl.IntVar(&c.n, "n", 5000, "files per loop")
	fl.IntVar(&c.par, "par", 1, "client threads running the loops at once, each on its share of the files")
	fl.IntVar(&c.rounds, "rounds", 7, "rounds (each runs every system once, in rotating order)")
	systems := fl.String("systems", "native,classic,uring", "systems to compare: native, classic (classicN: with N readers), uring")
	fl.StringVar(&c.backend, "backend", "mem", "mem (in-memory tree: the transport alone) or dir (passthrough to a directory under -base)")
	fl.StringVar(&c.base, "base", "/dev/shm", "where the mount point and directories are made (tmpfs: native and passthrough without disk noise)")
	fl.DurationVar(&c.ttl, "ttl", 0, "entry/attr lifetime: 0 sends every stat to the server")
	fl.IntVar(&c.workers, "workers", 4, "classic: reader goroutines")
	fl.IntVar(&c.depth, "depth", 8, "uring: entries per queue")
	fl.BoolVar(&c.pin, "pin", true, "uring: pin queue threads to their CPU")
	fl.StringVar(&c.ringFlags, "ringflags", "", "uring: extra io_uring_setup flags (coop,taskrun,single,defer)")
	fl.Parse(args)
	c.systems = strings.Split(*systems, ",")

	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		fmt.Fprintf(stderr, "uringproto: %v: cleaning up\n", s)
		stopping.Store(true) // the loops stop before the next operation
		time.Sleep(100 * time.Millisecond)
		cleanupAll()
		os.Exit(1)
	}()
	defer cleanupAll()

	if slices.Contains(c.systems, "uring") {
		b, err := os.ReadFile(enableUring)
		if err != nil {
			return fmt.Errorf("%s: %w (kernel without FUSE over io_uring)", enableUring, err)
		}
		prev := strings.TrimSpace(string(b))
		if prev != "Y" {
			cleanMu.Lock()
			uringBefore = prev
			cleanMu.Unlock()
			if err := os.WriteFile(enableUring, []byte("Y"), 0o644); err != nil {
				return fmt.Errorf("enable %s: %w", enableUring, err)
			}
		}
		fmt.Fprintf(stderr, "enable_uring was %s, is Y for the run\n", prev)
	}

	res := map[string][]result{}
	for round := range c.rounds {
		order := slices.Clone(c.systems)
		k := round % len(order)
		order = append(order[k:], order[:k]...)
		for _, sys := range order {
			r, err := runOne(&c, sys)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, sys, err)
			}
			res[sys] = append(res[sys], r)
			fmt.Fprintf(stderr, "round %d %-8s create %7.2f µs/op  stat %7.2f µs/op\n", round+1, sys, r.createUs, r.statUs)
		}
	}
	report(&c, res)
	cleanupAll()
	if left := ourMounts(c.base); len(left) > 0 {
		return fmt.Errorf("mounts left behind: %v", left)
	}
	fmt.Fprintf(stderr, "no uringproto mount left in /proc/mounts\n")
	return nil
}

func runOne(c *benchCfg, sys string) (result, error) {
	var r result
	dir, err := os.MkdirTemp(c.base, "uringproto-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	cleanMu.Lock()
	curDir = dir
	cleanMu.Unlock()
	target := filepath.Join(dir, "src")
	if err := os.Mkdir(target, 0o755); err != nil {
		return r, err
	}
	var child *exec.Cmd
	var lines *bufio.Scanner
	if sys != "native" {
		mnt := filepath.Join(dir, "mnt")
		if err := os.Mkdir(mnt, 0o755); err != nil {
			return r, err
		}
		// "classicN": the classic transport with N readers.
		transport, workers := sys, c.workers
		if w, err := strconv.Atoi(strings.TrimPrefix(sys, "classic")); err == nil && strings.HasPrefix(sys, "classic") {
			transport, workers = "classic", w
		}
		args := []string{"serve", "-transport", transport, "-mnt", mnt, "-ttl", c.ttl.String(),
			"-workers", fmt.Sprint(workers), "-depth", fmt.Sprint(c.depth), fmt.Sprintf("-pin=%v", c.pin),
			"-ringflags", c.ringFlags}
		if c.backend == "dir" {
			args = append(args, "-src", target)
		}
		exe, err := os.Executable()
		if err != nil {
			return r, err
		}
		child = exec.Command(exe, args...)
		child.Stderr = os.Stderr
		child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		stdout, err := child.StdoutPipe()
		if err != nil {
			return r, err
		}
		cleanMu.Lock()
		curMnt, curChild = mnt, child
		cleanMu.Unlock()
		if err := child.Start(); err != nil {
			return r, err
		}
		defer func() {
			unmount(mnt)
			done := make(chan struct{})
			go func() { child.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				child.Process.Kill()
				<-done
			}
			cleanMu.Lock()
			curMnt, curChild = "", nil
			cleanMu.Unlock()
		}()
		lines = bufio.NewScanner(stdout)
		if !lines.Scan() {
			io.Copy(io.Discard, stdout)
			return r, fmt.Errorf("server did not start")
		}
		var ready map[string]string
		if json.Unmarshal(lines.Bytes(), &ready) != nil || ready["ready"] != transport {
			return r, fmt.Errorf("server said %q", lines.Text())
		}
		target = mnt
	}
	snap := func() (counts, error) {
		var cn counts
		if child == nil {
			return cn, nil
		}
		child.Process.Signal(syscall.SIGUSR1)
		if !lines.Scan() {
			return cn, errors.New("no counts from the server")
		}
		return cn, json.Unmarshal(lines.Bytes(), &cn)
	}
	c0, err := snap()
	if err != nil {
		return r, err
	}
	names := make([]string, c.n)
	for i := range names {
		names[i] = fmt.Sprintf("%s/f%06d", target, i)
	}
	// create + close
	t0 := time.Now()
	if err := parallel(c.par, names, func(p string) error {
		fd, err := unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return fmt.Errorf("create %s: %w", p, err)
		}
		return unix.Close(fd)
	}); err != nil {
		return r, err
	}
	r.createUs = float64(time.Since(t0).Microseconds()) / float64(c.n)
	// RELEASE is asynchronous: let it drain before counting.
	time.Sleep(50 * time.Millisecond)
	c1, err := snap()
	if err != nil {
		return r, err
	}
	// stat
	t0 = time.Now()
	if err := parallel(c.par, names, func(p string) error {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
		}
		return nil
	}); err != nil {
		return r, err
	}
	r.statUs = float64(time.Since(t0).Microseconds()) / float64(c.n)
	c2, err := snap()
	if err != nil {
		return r, err
	}
	r.createReqs, r.statReqs = diff(c1, c0), diff(c2, c1)
	return r, nil
}

func diff(a, b counts) counts {
	d := counts{Dev: map[string]uint64{}, Ring: map[string]uint64{}}
	for k, v := range a.Dev {
		if v > b.Dev[k] {
			d.Dev[k] = v - b.Dev[k]
		}
	}
	for k, v := range a.Ring {
		if v > b.Ring[k] {
			d.Ring[k] = v - b.Ring[k]
		}
	}
	return d
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func perOp(cn counts, n int) string {
	var parts []string
	for _, m := range []struct {
		name string
		c    map[string]uint64
	}{{"dev", cn.Dev}, {"ring", cn.Ring}} {
		keys := make([]string, 0, len(m.c))
		for k := range m.c {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			parts = append(parts, fmt.Sprintf("%s %s %.2f", m.name, k, float64(m.c[k])/float64(n)))
		}
	}
	return strings.Join(parts, ", ")
}

// report prints, as markdown, the per-round times, the medians and the
// ratios computed within each round (median and range over rounds).
func report(c *benchCfg, res map[string][]result) {
	fmt.Printf("uringproto bench: backend %s, n %d, client threads %d, rounds %d, ttl %v, classic workers %d, uring depth %d, pin %v, ringflags %q\n\n",
		c.backend, c.n, c.par, c.rounds, c.ttl, c.workers, c.depth, c.pin, c.ringFlags)
	fmt.Printf("| loop | system | median µs/op | per round |\n|---|---|---|---|\n")
	get := func(sys string, stat bool) []float64 {
		var v []float64
		for _, r := range res[sys] {
			if stat {
				v = append(v, r.statUs)
			} else {
				v = append(v, r.createUs)
			}
		}
		return v
	}
	for _, loop := range []string{"create+close", "stat"} {
		for _, sys := range c.systems {
			v := get(sys, loop == "stat")
			var s []string
			for _, x := range v {
				s = append(s, fmt.Sprintf("%.2f", x))
			}
			fmt.Printf("| %s | %s | %.2f | %s |\n", loop, sys, median(v), strings.Join(s, ", "))
		}
	}
	fmt.Printf("\n| loop | ratio | median | range |\n|---|---|---|---|\n")
	var pairs [][2]string
	for _, sys := range c.systems {
		if strings.HasPrefix(sys, "classic") {
			pairs = append(pairs, [2]string{"uring", sys})
		}
	}
	for _, sys := range c.systems {
		if sys != "native" {
			pairs = append(pairs, [2]string{sys, "native"})
		}
	}
	for _, loop := range []string{"create+close", "stat"} {
		for _, p := range pairs {
			a, b := get(p[0], loop == "stat"), get(p[1], loop == "stat")
			if len(a) == 0 || len(a) != len(b) {
				continue
			}
			var q []float64
			for i := range a {
				q = append(q, a[i]/b[i])
			}
			fmt.Printf("| %s | %s / %s | %.3f | %.3f – %.3f |\n", loop, p[0], p[1], median(q), slices.Min(q), slices.Max(q))
		}
	}
	fmt.Printf("\nFUSE requests per operation (last round):\n\n")
	for _, sys := range c.systems {
		rs := res[sys]
		if sys == "native" || len(rs) == 0 {
			continue
		}
		last := rs[len(rs)-1]
		fmt.Printf("- %s create+close: %s\n", sys, perOp(last.createReqs, c.n))
		fmt.Printf("- %s stat: %s\n", sys, perOp(last.statReqs, c.n))
	}
}

// ourMounts lists the mount points of uringproto servers under base.
func ourMounts(base string) []string {
	b, _ := os.ReadFile("/proc/mounts")
	var m []string
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[0] == "uringproto" && strings.HasPrefix(unescapeMount(f[1]), base) {
			m = append(m, unescapeMount(f[1]))
		}
	}
	return m
}

// parallel runs fn on every name from par threads, each taking an equal
// contiguous share; the result is wall time, so µs/op is per operation
// of the whole.
func parallel(par int, names []string, fn func(string) error) error {
	if par <= 1 {
		for _, p := range names {
			if stopping.Load() {
				return errors.New("stopped")
			}
			if err := fn(p); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make(chan error, par)
	per := (len(names) + par - 1) / par
	for i := range par {
		part := names[min(i*per, len(names)):min((i+1)*per, len(names))]
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			for _, p := range part {
				if stopping.Load() {
					errs <- errors.New("stopped")
					return
				}
				if err := fn(p); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range par {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
