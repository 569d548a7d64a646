package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// config is what one invocation measures.
type config struct {
	quick     bool
	out       string // docs directory
	runs      int    // rounds of the file-system workloads
	smallN    []int  // create+write+close sizes (the last one is used for stat)
	renameN   int    // files renamed and unlinked
	flatDir   int    // entries of the directory listed by the readdir workload
	lsDir     int    // entries of the directory listed with ls -l
	seqBytes  int64  // sequential write/read size
	randReads int    // random 4 KiB reads
	tarSubset string // "" = whole GOROOT/src, else a subdirectory of it
	latOps    int    // operations per latency run
	latPace   time.Duration
	rateDur   time.Duration // duration of one sustained-rate step
	burst     int           // mkdirs in the overflow burst
	backlog   int           // events in the backlog replayed from the start
	rssTrees  []int         // tree sizes for the memory measurement
	reqsN     int           // files per operation of the request counts
	gobench   bool
	profile   bool
	only      string // comma-separated section names, for development
	keep      bool
	skipApt   bool
}

func (c *config) want(section string) bool {
	if interrupted.Load() {
		return false // no section starts once a signal has begun the cleanup
	}
	if c.only == "" {
		return true
	}
	for _, s := range strings.Split(c.only, ",") {
		if s == section {
			return true
		}
	}
	return false
}

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "__") {
		os.Exit(runHelper(os.Args[1], os.Args[2:]))
	}
	var cfg config
	flag.BoolVar(&cfg.quick, "quick", false, "small sizes and fewer rounds: about three minutes, for routine use")
	flag.StringVar(&cfg.out, "out", "../../docs", "docs directory: writes performance.md and img/ there (empty: no report)")
	flag.IntVar(&cfg.runs, "runs", 0, "rounds per workload (default 5, quick 3)")
	flag.BoolVar(&cfg.gobench, "gobench", true, "run the Go benchmarks (go test -bench) of eventbus, tests and cluster and include them (off with --quick unless given)")
	flag.BoolVar(&cfg.profile, "profile", true, "take a CPU profile of an in-process notifyfs under the small-file workload")
	flag.StringVar(&cfg.only, "only", "", "run only these sections (fs,reqs,latency,rate,rss,budget,underneath,gobench,cluster,profile), comma-separated (gobench includes the cluster benchmarks; cluster runs only those); --only underneath and --only reqs (or both) replace just those sections of an existing report")
	flag.IntVar(&cfg.reqsN, "reqs-n", 0, "files per operation of the request counts (section reqs; default 2000, quick 400)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the scratch directory (mounts are always removed)")
	flag.BoolVar(&cfg.skipApt, "no-install", false, "do not apt-get install missing peers (bindfs, inotify-tools)")
	flag.Parse()
	// Sizes: a FUSE create costs about 0.5 ms on the 2-core machine this
	// was tuned on (native: 35 µs), so the N = 10k/100k with five
	// systems on FUSE and five rounds would take more than half an hour
	// for the creates alone. The growth is still measured over 10×.
	if cfg.quick {
		cfg.smallN = []int{400, 4000}
		cfg.renameN = 400
		cfg.flatDir = 5000
		cfg.lsDir = 10000
		cfg.seqBytes = 128 << 20
		cfg.randReads = 10000
		cfg.tarSubset = "encoding"
		cfg.latOps = 300
		cfg.latPace = 2 * time.Millisecond
		cfg.rateDur = 300 * time.Millisecond
		cfg.burst = 16384 + 2048
		cfg.backlog = 40000
		cfg.rssTrees = []int{20000}
		if cfg.reqsN == 0 {
			cfg.reqsN = 400
		}
		if cfg.runs == 0 {
			cfg.runs = 3
		}
		if !isFlagSet("gobench") {
			cfg.gobench = false
		}
		if !isFlagSet("profile") {
			cfg.profile = false
		}
	} else {
		cfg.smallN = []int{3000, 30000}
		cfg.renameN = 3000
		cfg.flatDir = 30000
		cfg.lsDir = 100000
		cfg.seqBytes = 1 << 30
		cfg.randReads = 50000
		cfg.tarSubset = "cmd/go"
		cfg.latOps = 2000
		cfg.latPace = 2 * time.Millisecond
		cfg.rateDur = 1500 * time.Millisecond
		cfg.burst = 2*16384 + 8192
		cfg.backlog = 200000
		cfg.rssTrees = []int{100000, 1000000}
		if cfg.reqsN == 0 {
			cfg.reqsN = 2000
		}
		if cfg.runs == 0 {
			cfg.runs = 5
		}
	}
	os.Exit(run(&cfg))
}

func isFlagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == name {
			set = true
		}
	})
	return set
}

// Everything that must be undone (mounts, processes, scratch files) is
// registered here and undone in reverse order on every way out.
var (
	cleanMu  sync.Mutex
	cleanups []*cleanup
)

type cleanup struct {
	name string
	fn   func() error
	done bool
}

// atExit registers fn; calling the returned function runs it now (once)
// and forgets it.
func atExit(name string, fn func() error) func() error {
	c := &cleanup{name: name, fn: fn}
	cleanMu.Lock()
	cleanups = append(cleanups, c)
	cleanMu.Unlock()
	return func() error { return runCleanup(c) }
}

func runCleanup(c *cleanup) error {
	cleanMu.Lock()
	if c.done {
		cleanMu.Unlock()
		return nil
	}
	c.done = true
	cleanMu.Unlock()
	err := c.fn()
	if err != nil {
		logf("cleanup %s: %v", c.name, err)
	}
	return err
}

func runAllCleanups() {
	for {
		cleanMu.Lock()
		var c *cleanup
		for i := len(cleanups) - 1; i >= 0; i-- {
			if !cleanups[i].done {
				c = cleanups[i]
				break
			}
		}
		cleanMu.Unlock()
		if c == nil {
			return
		}
		runCleanup(c)
	}
}

var start = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

// errSkip marks a measurement that cannot be made here; the report says
// why.
var errSkip = errors.New("skipped")

// interrupted is set when a signal stops the run: the section under way
// fails as its mounts go, and no further one starts.
var interrupted atomic.Bool

func run(cfg *config) (code int) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		interrupted.Store(true)
		logf("%v: cleaning up", s)
		runAllCleanups()
		os.Exit(130)
	}()
	defer func() {
		if r := recover(); r != nil {
			logf("panic: %v\n%s", r, debug.Stack())
			code = 2
		}
		runAllCleanups()
		leftover := fuseMountsUnder(scratchPrefix)
		if len(leftover) > 0 {
			logf("BUG: mounts left behind: %v", leftover)
			code = 3
		}
	}()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench: must run as root (FUSE mounts without fusermount, drop_caches, bindfs)")
		return 1
	}
	clearStaleScratchMounts()

	scratch, err := os.MkdirTemp("", scratchPrefix)
	if err != nil {
		logf("%v", err)
		return 1
	}
	scratch, _ = filepath.EvalSymlinks(scratch)
	atExit("scratch", func() error {
		if cfg.keep {
			logf("scratch kept at %s", scratch)
			return nil
		}
		return os.RemoveAll(scratch)
	})
	env, err := prepare(cfg, scratch)
	if err != nil {
		logf("prepare: %v", err)
		return 1
	}
	rep := &report{cfg: cfg, env: env, started: time.Now()}
	if cfg.want("fs") {
		if err := runFS(cfg, env, rep); err != nil {
			logf("file-system workloads: %v", err)
			rep.failures = append(rep.failures, "file-system workloads: "+err.Error())
			code = 1
		}
	}
	if cfg.want("reqs") {
		if err := runReqs(cfg, env, rep); err != nil {
			logf("requests per operation: %v", err)
			rep.failures = append(rep.failures, "requests per operation: "+err.Error())
			code = 1
		}
	}
	if cfg.want("latency") {
		if err := runLatency(cfg, env, rep); err != nil {
			logf("latency: %v", err)
			rep.failures = append(rep.failures, "latency: "+err.Error())
			code = 1
		}
	}
	if cfg.want("rate") {
		if err := runRate(cfg, env, rep); err != nil {
			logf("event rate: %v", err)
			rep.failures = append(rep.failures, "event rate: "+err.Error())
			code = 1
		}
	}
	if cfg.want("rss") {
		if err := runRSS(cfg, env, rep); err != nil {
			logf("memory: %v", err)
			rep.failures = append(rep.failures, "memory: "+err.Error())
			code = 1
		}
	}
	if cfg.want("budget") {
		if err := runBudget(cfg, env, rep); err != nil {
			logf("budget: %v", err)
			rep.failures = append(rep.failures, "budget: "+err.Error())
			code = 1
		}
	}
	if cfg.want("underneath") {
		if err := runUnderneath(cfg, env, rep); err != nil {
			logf("underneath: %v", err)
			rep.failures = append(rep.failures, "underneath: "+err.Error())
			code = 1
		}
	}
	if cfg.profile && cfg.want("profile") {
		if err := runProfile(cfg, env, rep); err != nil {
			logf("profile: %v", err)
			rep.profileErr = err.Error()
		}
	}
	if cfg.gobench && (cfg.want("gobench") || cfg.want("cluster")) {
		runGoBench(cfg, env, rep)
	}
	rep.elapsed = time.Since(start)
	if cfg.out != "" {
		if err := rep.write(cfg.out); err != nil {
			logf("report: %v", err)
			return 1
		}
		logf("wrote %s", filepath.Join(cfg.out, "performance.md"))
	}
	logf("done in %v", time.Since(start).Round(time.Second))
	return code
}
