package main

// The underneath section's warm-stat and throughput runs (underneath.go
// has latency, start-up and memory over a large tree).

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// --- 3. warm stat with long cache lifetimes --------------------------------

const (
	uNative   = "native"
	uLoopback = "loopback"
)

func undStatAll(e *env, u *undResults, systems []undSys, base string) error {
	c := u.sizes
	type sys struct {
		name string
		spec sysSpec
		root string
	}
	all := []sys{{name: uNative, spec: sysSpec{name: uNative, kind: kNative}}, {name: uLoopback, spec: sysSpec{name: uLoopback, kind: kLoopback}}}
	u.statTTL[uNative], u.statTTL[uLoopback] = "–", "1 s"
	for _, s := range systems {
		all = append(all, sys{name: "notifyfs " + s.name, spec: s.spec(0)})
		u.statTTL["notifyfs "+s.name] = s.ttl
	}
	u.stat = newMetric("ustat", fmt.Sprintf("stat every file of a warm tree (%s files), second pass at once", kfmt(c.statN)), "µs/stat", false)
	u.stat.ops = c.statN
	u.stat2 = newMetric("ustat2", fmt.Sprintf("stat every file of a warm tree (%s files), again %v later", kfmt(c.statN), c.statPause), "µs/stat", false)
	u.stat2.ops = c.statN
	var rel []string
	for i, s := range all {
		all[i].root = filepath.Join(base, strconv.Itoa(i))
		u.statSystems = append(u.statSystems, s.name)
		dirs, files := smallFiles(filepath.Join(all[i].root, "src", "t"), c.statN)
		if err := os.MkdirAll(filepath.Join(all[i].root, "src", "t"), 0o755); err != nil {
			return err
		}
		if err := mkdirs(dirs); err != nil {
			return err
		}
		for _, f := range files {
			fd, err := unix.Open(f, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err != nil {
				return err
			}
			unix.Close(fd)
		}
		if rel == nil {
			src := filepath.Join(all[i].root, "src")
			for _, f := range files {
				rel = append(rel, strings.TrimPrefix(f, src))
			}
		}
	}
	unix.Sync()
	for r := 0; r < c.statRounds; r++ {
		for _, s := range rotate(all, r) {
			in, err := startSystem(e, s.spec, s.root)
			if err != nil {
				return err
			}
			paths := make([]string, len(rel))
			for i, p := range rel {
				paths[i] = in.dir + p
			}
			if _, err := statAll(paths); err != nil { // warm it
				in.close()
				return err
			}
			for _, m := range []*metric{u.stat, u.stat2} {
				if m == u.stat2 {
					time.Sleep(c.statPause)
				}
				cpu0 := in.cpu()
				d, err := statAll(paths)
				if err != nil {
					in.close()
					return err
				}
				v := float64(d) / 1e3 / float64(len(paths))
				m.add(s.name, r, v)
				if in.pid != 0 {
					put(m.cpu, s.name, r, float64(in.cpu()-cpu0)/1e6)
				}
				logf("  underneath %-6s %-20s %8.2f µs/stat", m.key, s.name, v)
			}
			if err := in.close(); err != nil {
				return err
			}
		}
	}
	return nil
}

// --- 4. the watcher's cost on the small-file workload ----------------------

func undTputAll(e *env, u *undResults, systems []undSys, base string) error {
	c := u.sizes
	mCreate := newMetric("ucreate", fmt.Sprintf("create+write 4 KiB+close, N=%s", kfmt(c.tputN)), "µs/file", false)
	mRename := newMetric("urename", fmt.Sprintf("rename, N=%s", kfmt(c.tputN)), "µs/op", false)
	mUnlink := newMetric("uunlink", fmt.Sprintf("unlink, N=%s", kfmt(c.tputN)), "µs/op", false)
	for _, m := range []*metric{mCreate, mRename, mUnlink} {
		m.ops = c.tputN
	}
	u.tput = []*metric{mCreate, mRename, mUnlink}
	for _, s := range systems {
		u.tputSystems = append(u.tputSystems, "notifyfs "+s.name)
	}
	for r := 0; r < c.tputRounds; r++ {
		for i, s := range rotate(systems, r) {
			root := filepath.Join(base, fmt.Sprintf("%d-%d", r, i))
			if err := undTput(e, u, s, root, r, c); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			os.RemoveAll(root)
			unix.Sync()
		}
	}
	return nil
}

func undTput(e *env, u *undResults, s undSys, root string, r int, c undConfig) error {
	in, err := startSystem(e, s.spec(1), root)
	if err != nil {
		return err
	}
	defer in.close()
	name := "notifyfs " + s.name
	var backing, total int
	var mu sync.Mutex
	in.subs[0].setOnEvent(func(ev *eventbus.Event, at time.Time) {
		if ev.Seq == 0 {
			return
		}
		mu.Lock()
		total++
		if ev.Origin == eventbus.OriginBacking {
			backing++
		}
		mu.Unlock()
	})
	dirs, files := smallFiles(filepath.Join(in.dir, "w"), c.tputN)
	if err := mkdirs(append([]string{filepath.Join(in.dir, "w")}, dirs...)); err != nil {
		return err
	}
	if _, err := in.catchUpAll(); err != nil {
		return err
	}
	mu.Lock()
	total = 0
	mu.Unlock()
	perOp := func(d time.Duration) float64 { return float64(d) / 1e3 / float64(c.tputN) }
	measure := func(m *metric, fn func() (time.Duration, error)) error {
		cpu0 := in.cpu()
		d, err := fn()
		if err != nil {
			return err
		}
		tail, err := in.catchUpAll()
		if err != nil {
			return err
		}
		m.add(name, r, perOp(d))
		put(m.cpu, name, r, float64(in.cpu()-cpu0)/1e3/float64(c.tputN))
		put(m.tail, name, r, float64(tail)/1e6)
		logf("  underneath %-20s %-8s %8.1f %s", name, m.key, perOp(d), m.unit)
		return nil
	}
	if err := measure(u.tput[0], func() (time.Duration, error) { return createWriteClose(files) }); err != nil {
		return err
	}
	if err := measure(u.tput[1], func() (time.Duration, error) { return renameAll(files) }); err != nil {
		return err
	}
	if err := measure(u.tput[2], func() (time.Duration, error) { return unlinkAll(files, ".r") }); err != nil {
		return err
	}
	in.subs[0].setOnEvent(nil)
	mu.Lock()
	put(u.tputEvents, name, r, float64(total)/float64(c.tputN))
	u.tputBacking[name] += backing
	mu.Unlock()
	return in.close()
}
