package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// rssResult is the daemon's memory after walking a tree through the mount.
type rssResult struct {
	sys       string
	entries   int
	base, rss int64 // VmRSS before and after the walk
	hwm       int64 // VmHWM after the walk
	walk      time.Duration
}

// runRSS walks trees of 100k (and 1M) entries through each daemon and
// reads its memory from /proc.
func runRSS(cfg *config, e *env, rep *report) error {
	systems := []sysSpec{{name: sLoopback, kind: kLoopback}}
	if e.bindfs != "" {
		systems = append(systems, sysSpec{name: sBindfs, kind: kBindfs})
	}
	systems = append(systems, sysSpec{name: sNotify0, kind: kNotifyfs})
	rep.rssSystems = systems
	for _, size := range cfg.rssTrees {
		tree := filepath.Join(e.data, "rss", "tree-"+kfmt(size))
		logf("memory: making a tree of %s entries", kfmt(size))
		entries, err := makeTree(tree, size)
		if err != nil {
			return err
		}
		runs := cfg.runs
		if size > 100000 || cfg.quick {
			runs = 1
		}
		for r := 0; r < runs; r++ {
			for _, s := range rotate(systems, r) {
				res, err := walkRSS(e, s, tree, filepath.Join(e.data, "rss", fmt.Sprintf("m-%s-%s-%d", kfmt(size), s.name, r)))
				if err != nil {
					return err
				}
				res.entries = entries
				logf("  %-10s %s entries: RSS %s → %s (HWM %s), walk %v", s.name, kfmt(size), mib(res.base), mib(res.rss), mib(res.hwm), res.walk.Round(time.Millisecond))
				rep.rss = append(rep.rss, res)
			}
		}
		os.RemoveAll(tree)
		unix.Sync()
	}
	return nil
}

// makeTree makes size entries natively: directories of 1000 files.
func makeTree(root string, size int) (int, error) {
	entries := 0
	for d := 0; entries < size; d++ {
		dir := filepath.Join(root, "d"+strconv.Itoa(d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return 0, err
		}
		entries++
		for f := 0; f < filesPerDir-1 && entries < size; f++ {
			fd, err := unix.Open(filepath.Join(dir, "f"+strconv.Itoa(f)), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
			if err != nil {
				return 0, err
			}
			unix.Close(fd)
			entries++
		}
	}
	return entries, nil
}

// walkRSS mounts tree (as SOURCE) with system s at a fresh mount point,
// stats every entry through the mount and reads the daemon's memory.
func walkRSS(e *env, s sysSpec, tree, root string) (*rssResult, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	// The tree is SOURCE: link it in as root/src.
	if err := os.Symlink(tree, filepath.Join(root, "src")); err != nil {
		return nil, err
	}
	in, err := startSystem(e, s, root)
	if err != nil {
		return nil, err
	}
	defer in.close()
	res := &rssResult{sys: s.name}
	res.base, _ = procMem(in.pid)
	t0 := time.Now()
	n, err := walk(in.dir)
	if err != nil {
		return nil, err
	}
	res.walk = time.Since(t0)
	res.rss, res.hwm = procMem(in.pid)
	_ = n
	return res, in.close()
}

// walk lists every directory and lstats every entry below dir.
func walk(dir string) (int, error) {
	buf := make([]byte, 64<<10)
	var st unix.Stat_t
	count := 0
	var rec func(string) error
	rec = func(d string) error {
		fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		var names []string
		for {
			m, err := unix.Getdents(fd, buf)
			if err != nil {
				unix.Close(fd)
				return err
			}
			if m == 0 {
				break
			}
			_, _, names = unix.ParseDirent(buf[:m], -1, names)
		}
		unix.Close(fd)
		for _, nm := range names {
			p := d + "/" + nm
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			count++
			if st.Mode&unix.S_IFMT == unix.S_IFDIR {
				if err := rec(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return count, rec(dir)
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
