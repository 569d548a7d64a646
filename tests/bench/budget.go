package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The memory budget (issue 11): the daemon's RSS under a hostile event
// mix — renames of long names deep in a tree, the events that weigh
// most — with subscribers that never read, against --ring-bytes.

// budgetResult is one run of the budget section.
type budgetResult struct {
	ringBytes int64
	renames   int
	stuck     int
	base, rss int64 // VmRSS after mounting, and after the renames
	hwm       int64
	pathBytes int
	took      time.Duration
}

const budgetRing = 64 << 20 // the default --ring-bytes

// runBudget mounts notifyfs with the default ring budget, connects
// subscribers that subscribe and never read, renames a file back and
// forth in a directory 14 levels of 240-character names deep, and reads
// the daemon's memory.
func runBudget(cfg *config, e *env, rep *report) error {
	n, stuck := 270_000, 64
	if cfg.quick {
		n = 60_000
	}
	root := filepath.Join(e.data, "budget")
	in, err := startSystem(e, sysSpec{name: sNotify0, kind: kNotifyfs, extra: []string{"--ring-bytes", fmt.Sprint(budgetRing)}}, root)
	if err != nil {
		return err
	}
	defer in.close()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range stuck {
		c, err := net.Dial("unix", in.sock)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		fmt.Fprintf(c, `{"id":1,"op":"subscribe","name":"stuck-%d"}`+"\n", i)
	}
	// The deep directory is made natively (its own creation is not the
	// point), then the renames go through the mount.
	name := strings.Repeat("n", 240)
	deep := ""
	for range 14 {
		deep = filepath.Join(deep, name)
	}
	if err := os.MkdirAll(filepath.Join(in.src, deep), 0o755); err != nil {
		return err
	}
	a, b := filepath.Join(in.dir, deep, name+"a"), filepath.Join(in.dir, deep, name+"b")
	fd, err := unix.Open(a, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	unix.Close(fd)
	res := &budgetResult{ringBytes: budgetRing, renames: n, stuck: stuck, pathBytes: len(deep) + 1 + len(name) + 1}
	res.base, _ = procMem(in.pid)
	t0 := time.Now()
	for i := range n {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		if err := unix.Rename(from, to); err != nil {
			return fmt.Errorf("rename %d: %w", i, err)
		}
	}
	res.took = time.Since(t0)
	res.rss, res.hwm = procMem(in.pid)
	logf("budget: %d renames of %d-byte paths, %d stuck subscribers, --ring-bytes %s: RSS %s → %s (peak %s) in %v",
		n, res.pathBytes, stuck, mib(budgetRing), mib(res.base), mib(res.rss), mib(res.hwm), res.took.Round(time.Millisecond))
	rep.budget = append(rep.budget, res)
	return in.close()
}

func (r *report) mdBudget(p printer) {
	if len(r.budget) == 0 {
		return
	}
	p("### 9. Memory under a hostile event mix (the budget)\n\n")
	p("notifyfs with `--ring-bytes 64MiB` (the default), subscribers that subscribe and never read, and a file renamed back and forth in a directory 14 levels of 240-character names deep through the mount, each event carrying two paths of about 3.6 KB: the events that weigh most. The ring is bounded in bytes, not events, and subscribers hold no events of their own, so RSS stays under the budget plus a constant (operations.md, \"Limits and budgets\").\n\n")
	p("| renames | path bytes | stuck subscribers | --ring-bytes | RSS after mount | RSS after | peak (VmHWM) | time |\n|---|---|---|---|---|---|---|---|\n")
	for _, x := range r.budget {
		p("| %s | %d | %d | %s | %s | %s | %s | %.1f s |\n", kfmt(x.renames), x.pathBytes, x.stuck, mib(x.ringBytes), mib(x.base), mib(x.rss), mib(x.hwm), x.took.Seconds())
	}
	p("\n")
}
