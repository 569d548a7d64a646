package main

// The "underneath" section: changes made directly on SOURCE (underneath
// the mount, not through FUSE), seen by kqshim and published with origin
// backing. Per Linux backend it measures
//
//   - latency: a change made on SOURCE by this process → the event at a
//     subscriber;
//   - a tree of 100k directories: the mount's start-up time (the watcher
//     is set up before the ready signal), the daemon's memory and CPU
//     while idle, and the kernel-side cost (watches and marks from
//     /proc/PID/fdinfo, inodes the kernel can no longer drop);
//   - stat of a warm tree through the mount with the cache lifetimes a
//     kernel backend makes safe (1 min) against native, the plain
//     loopback and notifyfs without a watcher (1 s);
//   - what the watcher costs the small-file workload through the mount
//     (every operation announces itself to the watcher, and with
//     fanotify/inotify the kernel reports it back to be dropped as an
//     echo).
//
// One daemon runs at a time: fanotify marks SOURCE's whole filesystem,
// and every SOURCE of the benchmark lives on the same ext4, so a second
// daemon's work would reach the first one's watcher.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// undConfig is the section's sizes.
type undConfig struct {
	latOps      int           // paced changes per latency run
	latPace     time.Duration // between two of them (latOps × latPace: a whole number of 2 s poll intervals)
	latRounds   int
	treeLatOps  int // the same in the big tree
	treeLatPace time.Duration
	treeTop     int // the big tree: treeTop directories of treeFan directories each
	treeFan     int
	treeRounds  int
	idle        time.Duration // idle window after start-up (CPU, steady RSS); at least two poll intervals
	statN       int           // files of the warm-stat tree
	statPause   time.Duration // before the later stat pass: past the 1 s lifetimes
	statRounds  int
	tputN       int // files created, renamed, unlinked through the mount
	tputRounds  int
}

func undSizes(cfg *config) undConfig {
	if cfg.quick {
		return undConfig{latOps: 200, latPace: 10 * time.Millisecond, latRounds: min(cfg.runs, 2), treeLatOps: 20, treeLatPace: 100 * time.Millisecond,
			treeTop: 10, treeFan: 1000, treeRounds: 1, idle: time.Second, statPause: 2 * time.Second,
			statN: 10000, statRounds: min(cfg.runs, 2), tputN: 1000, tputRounds: min(cfg.runs, 2)}
	}
	return undConfig{latOps: 400, latPace: 10 * time.Millisecond, latRounds: min(cfg.runs, 3), treeLatOps: 20, treeLatPace: 100 * time.Millisecond,
		treeTop: 100, treeFan: 1000, treeRounds: min(cfg.runs, 3), idle: 2 * time.Second, statPause: 2 * time.Second,
		statN: 20000, statRounds: cfg.runs, tputN: 2000, tputRounds: cfg.runs}
}

// undSys is one way of running notifyfs.
type undSys struct {
	name     string // column label
	backend  string // --underneath
	flags    []string
	interval time.Duration // poll interval, 0 for the others
	ttl      string        // kernel cache lifetimes it gets by default
}

var (
	uFanotify = undSys{name: "fanotify", backend: "fanotify", ttl: "1 min"}
	uInotify  = undSys{name: "inotify", backend: "inotify", ttl: "1 min"}
	uPoll     = undSys{name: "poll 2 s", backend: "poll", interval: 2 * time.Second, ttl: "1 s"}
	uPoll100  = undSys{name: "poll 100 ms", backend: "poll", flags: []string{"--poll-interval", "100ms"}, interval: 100 * time.Millisecond, ttl: "1 s"}
	uOff      = undSys{name: "off", backend: "off", ttl: "1 s"}
)

func (u undSys) spec(subs int) sysSpec {
	return sysSpec{name: "notifyfs " + u.name, kind: kNotifyfs, subs: subs,
		extra: append([]string{"--underneath", u.backend}, u.flags...)}
}

// undResults is everything the section measured.
type undResults struct {
	sizes       undConfig
	unavailable map[string]string // backend → why it could not run here
	started     time.Time
	elapsed     time.Duration

	latSystems []string
	lat        []*latRun
	doubled    map[string]int // create events received twice for one change

	treeDirs    int
	treeBuild   time.Duration
	treeSystems []string
	tree        []*treeRun
	inodeSize   int64 // ext4_inode_cache object size

	statSystems []string
	statTTL     map[string]string
	stat        *metric // the second pass, at once
	stat2       *metric // a third pass, statPause after the second

	tputSystems []string
	tput        []*metric
	tputEvents  map[string][]float64 // events received per file, per round
	tputBacking map[string]int       // events with origin backing during mount-only workloads

	failure string
}

// treeRun is one start-up of a daemon on the big tree.
type treeRun struct {
	sys, round   string
	startup      time.Duration
	rssReady     int64 // VmRSS right after the ready signal
	rss, hwm     int64 // VmRSS and VmHWM after the idle window
	idleCPU      float64
	watches      int64 // status underneath.watches; -1: not reported
	objects      int64 // status underneath.objects (poll); -1: not reported
	mark         string
	kInotify     int   // inotify watches in /proc/PID/fdinfo
	kFanotify    int   // fanotify marks in /proc/PID/fdinfo
	kFanotifyFS  int   // of which filesystem (superblock) marks
	inodesPinned int64 // inodes in memory after drop_caches
	stop         time.Duration
	lat          *latRun // changes made in the big tree → subscriber
	window       time.Duration
}

// runUnderneath runs the section. Whatever was measured before a failure
// is kept in the report.
func runUnderneath(cfg *config, e *env, rep *report) error {
	u := &undResults{sizes: undSizes(cfg), unavailable: map[string]string{}, doubled: map[string]int{},
		started: time.Now(), tputEvents: map[string][]float64{}, tputBacking: map[string]int{}, statTTL: map[string]string{}}
	rep.und = u
	err := runUnderneathParts(e, u)
	u.elapsed = time.Since(u.started)
	if err != nil {
		u.failure = err.Error()
	}
	return err
}

func runUnderneathParts(e *env, u *undResults) error {
	base := filepath.Join(e.data, "und")
	defer os.RemoveAll(base)
	// Which backends work here: a daemon on an empty SOURCE each.
	for _, s := range []undSys{uFanotify, uInotify, uPoll} {
		in, err := startSystem(e, s.spec(0), filepath.Join(base, "probe-"+s.backend))
		if err != nil {
			u.unavailable[s.backend] = firstLine(err.Error())
			logf("underneath: %s is not available here: %s", s.backend, u.unavailable[s.backend])
			continue
		}
		if err := in.close(); err != nil {
			return err
		}
	}
	avail := func(ss ...undSys) []undSys {
		var out []undSys
		for _, s := range ss {
			if _, bad := u.unavailable[s.backend]; !bad {
				out = append(out, s)
			}
		}
		return out
	}
	if err := undLatencyAll(e, u, avail(uFanotify, uInotify, uPoll, uPoll100), filepath.Join(base, "lat")); err != nil {
		return fmt.Errorf("latency: %w", err)
	}
	if err := undTreeAll(e, u, avail(uOff, uFanotify, uInotify, uPoll, uPoll100), filepath.Join(base, "tree")); err != nil {
		return fmt.Errorf("100k-directory tree: %w", err)
	}
	if err := undStatAll(e, u, avail(uOff, uInotify, uFanotify), filepath.Join(base, "stat")); err != nil {
		return fmt.Errorf("warm stat: %w", err)
	}
	if err := undTputAll(e, u, avail(uOff, uFanotify, uInotify), filepath.Join(base, "tput")); err != nil {
		return fmt.Errorf("small-file workload: %w", err)
	}
	return nil
}

// --- 1. latency -----------------------------------------------------------

func undLatencyAll(e *env, u *undResults, systems []undSys, base string) error {
	c := u.sizes
	for _, s := range systems {
		u.latSystems = append(u.latSystems, s.name)
	}
	for r := 0; r < c.latRounds; r++ {
		for _, s := range rotate(systems, r) {
			root := filepath.Join(base, fmt.Sprintf("%d-%s", r, s.backend+strconv.Itoa(int(s.interval/time.Millisecond))))
			lr, dup, err := undLatency(e, s, root, c)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			lr.sys = s.name
			slices.Sort(lr.samples)
			u.doubled[s.name] += dup
			logf("  underneath latency %-12s p50 %8.2f ms  p99 %8.2f ms  max %8.2f ms  (%d samples, %d missing, %d doubled)", s.name,
				percentile(lr.samples, 50)/1e3, percentile(lr.samples, 99)/1e3, percentile(lr.samples, 100)/1e3, len(lr.samples), lr.missing, dup)
			u.lat = append(u.lat, lr)
			os.RemoveAll(root)
		}
	}
	return nil
}

// undLatency creates files directly in SOURCE, paced, and times each
// create's return → its create event (origin backing) at a subscriber.
func undLatency(e *env, s undSys, root string, c undConfig) (*latRun, int, error) {
	dir := filepath.Join(root, "src", "lat")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, 0, err
	}
	in, err := startSystem(e, s.spec(1), root)
	if err != nil {
		return nil, 0, err
	}
	defer in.close()
	lr, dup, err := latencyUnderneath(in, dir, "lat", c.latOps, c.latPace, s.interval)
	if err != nil {
		return nil, 0, err
	}
	return lr, dup, in.close()
}

// latencyUnderneath creates ops files f0, f1, … in dir (in SOURCE, rel
// from its root), one per pace, and times each create's return → its
// create event (origin backing) at the instance's first subscriber (one
// is connected if it has none). dup counts create events received twice.
func latencyUnderneath(in *instance, dir, rel string, ops int, pace, interval time.Duration) (*latRun, int, error) {
	if len(in.subs) == 0 {
		sub, err := dialSubscriber(in.sock, "bench-lat", 0)
		if err != nil {
			return nil, 0, err
		}
		in.subs = append(in.subs, sub)
	}
	if _, err := in.catchUpAll(); err != nil {
		return nil, 0, err
	}
	var mu sync.Mutex
	recv := make(map[string]time.Time, ops)
	dup := 0
	all := make(chan struct{}, 1)
	in.subs[0].setOnEvent(func(ev *eventbus.Event, at time.Time) {
		if ev.Type != eventbus.Create || ev.Origin != eventbus.OriginBacking {
			return
		}
		mu.Lock()
		if _, ok := recv[ev.Path]; ok {
			dup++
		} else {
			recv[ev.Path] = at
		}
		n := len(recv)
		mu.Unlock()
		if n == ops {
			select {
			case all <- struct{}{}:
			default:
			}
		}
	})
	defer in.subs[0].setOnEvent(nil)
	ret, err := pacedCreates(dir, ops, pace)
	if err != nil {
		return nil, 0, err
	}
	// Let every event arrive by itself: a sync now would make the poll
	// backend scan at once and hurry the last interval's events.
	select {
	case <-all:
	case <-time.After(10*time.Second + 2*interval):
	}
	if _, err := in.catchUpAll(); err != nil {
		return nil, 0, err
	}
	lr := &latRun{}
	mu.Lock()
	defer mu.Unlock()
	for i := range ret {
		at, ok := recv[rel+"/f"+strconv.Itoa(i)]
		if !ok {
			lr.missing++
			continue
		}
		lr.samples = append(lr.samples, float64(at.Sub(ret[i]))/1e3)
	}
	slices.Sort(lr.samples)
	return lr, dup, nil
}

// --- 2. a tree of 100k directories ---------------------------------------

func undTreeAll(e *env, u *undResults, systems []undSys, base string) error {
	c := u.sizes
	tree := filepath.Join(base, "tree")
	logf("underneath: making a tree of %d × %d directories", c.treeTop, c.treeFan)
	t0 := time.Now()
	n, err := makeDirTree(tree, c.treeTop, c.treeFan)
	if err != nil {
		return err
	}
	unix.Sync()
	u.treeDirs, u.treeBuild = n, time.Since(t0)
	u.inodeSize = ext4InodeSize()
	logf("underneath: %d directories in %v", n, u.treeBuild.Round(time.Millisecond))
	for _, s := range systems {
		u.treeSystems = append(u.treeSystems, s.name)
	}
	for r := 0; r < c.treeRounds; r++ {
		// poll at 100 ms scans without pause on a big tree: one round
		// shows it, and takes a core for its whole length.
		round := systems
		if r > 0 {
			round = slices.DeleteFunc(slices.Clone(systems), func(s undSys) bool { return s.name == uPoll100.name })
		}
		for i, s := range rotate(round, r) {
			root := filepath.Join(base, fmt.Sprintf("m%d-%d", r, i))
			tr, err := undTreeRun(e, s, tree, root, c)
			if err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			tr.round = strconv.Itoa(r)
			u.tree = append(u.tree, tr)
			logf("  underneath tree %-12s start-up %7.3f s  RSS %s (peak %s)  idle CPU %5.1f%%  watches %d  fdinfo: %d inotify watches, %d fanotify marks (%d filesystem)  inodes after drop_caches %d  stop %v",
				s.name, tr.startup.Seconds(), mib(tr.rss), mib(tr.hwm), tr.idleCPU, tr.watches, tr.kInotify, tr.kFanotify, tr.kFanotifyFS, tr.inodesPinned, tr.stop.Round(time.Millisecond))
			if tr.lat != nil {
				logf("  underneath tree %-12s latency p50 %8.2f ms  max %8.2f ms", s.name, percentile(tr.lat.samples, 50)/1e3, percentile(tr.lat.samples, 100)/1e3)
			}
			os.RemoveAll(root) // root/src is a symlink: the tree stays
		}
	}
	os.RemoveAll(tree)
	unix.Sync()
	return nil
}

// makeDirTree makes top directories of fan (empty) directories each.
func makeDirTree(root string, top, fan int) (int, error) {
	n := 0
	for t := 0; t < top; t++ {
		d := filepath.Join(root, fmt.Sprintf("t%03d", t))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, err
		}
		n++
		for f := 0; f < fan; f++ {
			if err := unix.Mkdir(d+"/d"+strconv.Itoa(f), 0o755); err != nil {
				return 0, err
			}
			n++
		}
	}
	return n + 1, nil // and the root
}

func undTreeRun(e *env, s undSys, tree, root string, c undConfig) (*treeRun, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := os.Symlink(tree, filepath.Join(root, "src")); err != nil {
		return nil, err
	}
	tr := &treeRun{sys: s.name, watches: -1, objects: -1}
	t0 := time.Now()
	in, err := startSystem(e, s.spec(0), root)
	if err != nil {
		return nil, err
	}
	tr.startup = time.Since(t0)
	defer in.close()
	tr.rssReady, _ = procMem(in.pid)
	if st, err := undStatus(in.sock); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	} else if m, ok := st["underneath"].(map[string]any); ok {
		tr.watches = jsonInt(m["watches"])
		tr.objects = jsonInt(m["objects"])
		tr.mark, _ = m["mark"].(string)
	}
	tr.kInotify, tr.kFanotify, tr.kFanotifyFS = kernelMarks(in.pid)
	// Idle: no change anywhere. At least two intervals, so that a poll
	// backend's scans are in it.
	tr.window = max(c.idle, 2*s.interval)
	cpu0, w0 := in.cpu(), time.Now()
	time.Sleep(tr.window)
	tr.idleCPU = float64(in.cpu()-cpu0) / float64(time.Since(w0)) * 100
	tr.rss, tr.hwm = procMem(in.pid)
	if s.backend != "off" {
		dir := filepath.Join(tree, "t000")
		lr, dup, err := latencyUnderneath(in, dir, "t000", c.treeLatOps, c.treeLatPace, s.interval)
		if err == nil && (dup > 0 || lr.missing > 0) {
			err = fmt.Errorf("changes in the tree: %d events missing, %d doubled", lr.missing, dup)
		}
		if err != nil {
			return nil, err
		}
		lr.sys = s.name
		tr.lat = lr
	}
	// Last, as it leaves the kernel's caches cold. Not with poll, which
	// holds nothing in the kernel: its next scan would be cold and its
	// stop wait for it.
	tr.inodesPinned = -1
	if s.backend != "poll" {
		tr.inodesPinned = inodesAfterDrop()
	}
	t1 := time.Now()
	err = in.close()
	tr.stop = time.Since(t1)
	for i := 0; i < c.treeLatOps; i++ {
		os.Remove(filepath.Join(tree, "t000", "f"+strconv.Itoa(i)))
	}
	return tr, err
}

// undStatus asks the daemon for its status object.
func undStatus(sock string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, sock)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.Status(ctx)
}

// jsonInt reads a number from a decoded status object; -1 if absent.
func jsonInt(v any) int64 {
	if v == nil {
		return -1
	}
	n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// kernelMarks counts what the kernel holds for the process's notification
// descriptors, from /proc/PID/fdinfo: inotify watches, fanotify marks and
// of those the filesystem (superblock) marks.
func kernelMarks(pid int) (inotify, fanotify, fanotifyFS int) {
	dir := "/proc/" + strconv.Itoa(pid) + "/fdinfo"
	ents, _ := os.ReadDir(dir)
	for _, ent := range ents {
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			switch {
			case strings.HasPrefix(l, "inotify wd:"):
				inotify++
			case strings.HasPrefix(l, "fanotify ") && !strings.HasPrefix(l, "fanotify flags:"):
				fanotify++
				// inode marks say ino:, mount marks mnt_id:, filesystem
				// marks only sdev:.
				if strings.Contains(l, "sdev:") && !strings.Contains(l, "ino:") && !strings.Contains(l, "mnt_id:") {
					fanotifyFS++
				}
			}
		}
	}
	return
}

// inodesAfterDrop syncs, asks the kernel to drop its clean dentries and
// inodes (twice: the second pass frees what the first one unpinned), and
// returns how many inodes are still in memory, on every filesystem
// (/proc/sys/fs/inode-nr): those something holds, such as an inotify
// watch, which pins its inode.
func inodesAfterDrop() int64 {
	unix.Sync()
	for i := 0; i < 2; i++ {
		if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("2"), 0); err != nil {
			return -1
		}
	}
	b, err := os.ReadFile("/proc/sys/fs/inode-nr")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// ext4InodeSize is the size of an ext4 inode in memory: the object size
// of the ext4_inode_cache slab (0 if unknown).
func ext4InodeSize() int64 {
	b, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 3 && f[0] == "ext4_inode_cache" {
			n, _ := strconv.ParseInt(f[3], 10, 64)
			return n
		}
	}
	return 0
}
