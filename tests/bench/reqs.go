package main

// The "reqs" section: the FUSE requests the kernel sends per small-file
// operation (create+write+close, stat of a warm tree, rename, unlink) on
// the plain loopback and on notifyfs, counted from go-fuse's debug log,
// next to the time of each operation and its ratio to the loopback. It
// is written inside the small-file part of docs/performance.md between
// its own markers, so that `--only reqs` replaces just that block.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

const (
	reqsBegin = "<!-- reqs:begin -->"
	reqsEnd   = "<!-- reqs:end -->"
)

// The loopback and notifyfs (one subscriber) mounted without the
// kernel's permission checks (default_permissions, on by default as
// root): notifyfs acts as the caller, so SOURCE still decides, at one
// round trip less per create, rename and unlink.
const (
	sLoopbackNoDP = "loopback-nodp"
	sNotify1NoDP  = "notifyfs+1sub-nodp"
)

// reqsSystems are the systems of the section, in table order.
func reqsSystems() []sysSpec {
	return []sysSpec{
		{name: sLoopback, kind: kLoopback},
		{name: sNotify0, kind: kNotifyfs},
		{name: sNotify1, kind: kNotifyfs, subs: 1},
		{name: sLoopbackNoDP, kind: kLoopback, extra: []string{"--default-permissions=false"}},
		{name: sNotify1NoDP, kind: kNotifyfs, subs: 1, extra: []string{"--default-permissions=false"}},
	}
}

// The operations, in the order they run on a system's files.
var reqsOps = []struct{ key, title, unit string }{
	{"create", "create+write 4 KiB+close", "µs/file"},
	{"stat", "lstat, warm (second pass)", "µs/stat"},
	{"rename", "rename", "µs/op"},
	{"unlink", "unlink", "µs/op"},
}

// reqNoise: a difference in requests per operation below this is put
// down to cache lifetimes running out, not to the file system.
const reqNoise = 0.2

type reqResults struct {
	systems []sysSpec
	n       int // files per operation, timed rounds
	countN  int // files per operation, counting pass
	runs    int
	// counts[op][system][request] = requests per operation; a request
	// is the opcode, GETXATTR with the attribute's name.
	counts  map[string]map[string]map[string]float64
	times   map[string]*metric // by op: µs per operation
	elapsed time.Duration
	date    string
}

// reqsCountMax bounds the files of the counting pass: with every request
// logged a pass of more would outlast the mounts' 1 s entry lifetimes,
// and the names expired meanwhile would add LOOKUPs the timed rounds do
// not pay.
const reqsCountMax = 400

// reqsTTL is the entry and attribute lifetime both mounts use
// (fusefs.DefaultOptions with the underneath watcher off).
const reqsTTL = time.Second

// runReqs counts the requests in one pass with request logging on, then
// times the same workload in cfg.runs rounds without it.
func runReqs(cfg *config, e *env, rep *report) error {
	t0 := time.Now()
	res := &reqResults{systems: reqsSystems(), n: cfg.reqsN, countN: min(cfg.reqsN, reqsCountMax), runs: cfg.runs, counts: map[string]map[string]map[string]float64{}, times: map[string]*metric{}, date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	for _, op := range reqsOps {
		res.counts[op.key] = map[string]map[string]float64{}
		res.times[op.key] = newMetric(op.key, op.title, op.unit, false)
	}
	base := filepath.Join(e.data, "reqs")
	// Counting pass: go-fuse's debug log (`notifyfs mount --debug`, the
	// loopback helper with MountOptions.Debug) has one "rx" line per
	// request; the log is cut after each operation once it has gone quiet
	// (RELEASE and FORGET arrive after the call that caused them returned).
	for _, s := range res.systems {
		spec := s
		spec.extra = append(slices.Clone(s.extra), "--debug")
		in, err := startSystem(e, spec, filepath.Join(base, "count", s.name))
		if err != nil {
			return err
		}
		err = reqsCount(in, res, res.countN)
		if cerr := in.close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: counting requests: %w", s.name, err)
		}
	}
	// Timed rounds, without the log.
	for r := 0; r < cfg.runs; r++ {
		order := rotate(res.systems, r)
		var insts []*instance
		teardown := func() error {
			var errs []string
			for _, in := range insts {
				if err := in.close(); err != nil {
					errs = append(errs, err.Error())
				}
			}
			insts = nil
			if len(errs) > 0 {
				return fmt.Errorf("%s", strings.Join(errs, "; "))
			}
			return nil
		}
		undo := atExit(fmt.Sprintf("reqs round %d", r), teardown)
		logf("requests per operation: timed round %d/%d", r+1, cfg.runs)
		type state struct {
			in           *instance
			dirs, files  []string
			top, topDirs string
		}
		var states []*state
		for _, s := range order {
			in, err := startSystem(e, s, filepath.Join(base, "time", s.name))
			if err != nil {
				undo()
				return err
			}
			insts = append(insts, in)
			st := &state{in: in, top: filepath.Join(in.dir, fmt.Sprintf("r%d", r))}
			st.dirs, st.files = smallFiles(st.top, cfg.reqsN)
			if err := mkdirs(append([]string{st.top}, st.dirs...)); err != nil {
				undo()
				return err
			}
			states = append(states, st)
		}
		for _, op := range reqsOps {
			for _, st := range states {
				var d time.Duration
				var err error
				switch op.key {
				case "create":
					d, err = createWriteClose(st.files)
				case "stat":
					if _, err = statAll(st.files); err == nil {
						d, err = statAll(st.files)
					}
				case "rename":
					if err = warmNames(st.files, ""); err == nil {
						d, err = renameAll(st.files)
					}
				case "unlink":
					if err = warmNames(st.files, ".r"); err == nil {
						d, err = unlinkAll(st.files, ".r")
					}
				}
				if err == nil {
					_, err = st.in.catchUpAll()
				}
				if err != nil {
					undo()
					return fmt.Errorf("%s: %s: %w", st.in.spec.name, op.key, err)
				}
				v := float64(d) / 1e3 / float64(cfg.reqsN)
				res.times[op.key].add(st.in.spec.name, r, v)
				logf("  %-15s %-7s %8.2f %s", st.in.spec.name, op.key, v, op.unit)
			}
		}
		for _, st := range states {
			if err := rmdirs(append(slices.Clone(st.dirs), st.top)); err != nil {
				undo()
				return err
			}
		}
		if err := undo(); err != nil {
			return err
		}
	}
	res.elapsed = time.Since(t0)
	rep.reqs = res
	return nil
}

// reqsCount runs the workload once on a system whose daemon logs every
// request and records the requests per operation.
func reqsCount(in *instance, res *reqResults, n int) error {
	top := filepath.Join(in.dir, "count")
	dirs, files := smallFiles(top, n)
	if err := mkdirs(append([]string{top}, dirs...)); err != nil {
		return err
	}
	off := logQuiet(in.log)
	for _, op := range reqsOps {
		var err error
		switch op.key {
		case "create":
			_, err = createWriteClose(files)
		case "stat":
			if _, err = statAll(files); err == nil {
				off = logQuiet(in.log) // the warm-up pass is not counted
				_, err = statAll(files)
			}
		case "rename":
			if err = warmNames(files, ""); err == nil {
				off = logQuiet(in.log)
				_, err = renameAll(files)
			}
		case "unlink":
			if err = warmNames(files, ".r"); err == nil {
				off = logQuiet(in.log)
				_, err = unlinkAll(files, ".r")
			}
		}
		if err == nil {
			_, err = in.catchUpAll()
		}
		if err != nil {
			return fmt.Errorf("%s: %w", op.key, err)
		}
		end := logQuiet(in.log)
		c, err := countRequests(in.log, off, end)
		if err != nil {
			return err
		}
		per := map[string]float64{}
		for k, v := range c {
			per[k] = float64(v) / float64(n)
		}
		res.counts[op.key][in.spec.name] = per
		logf("  %-15s %-7s %s", in.spec.name, op.key, reqList(per, true))
		off = end
	}
	return rmdirs(append(dirs, top))
}

// warmNames lets the kernel's entries of the names (with suffix) expire
// and lstats every name again, untimed, so that the operation that
// follows finds all of them freshly cached on every system alike rather
// than however many happened to outlive the 1 s entry lifetime since the
// previous operation (a look-up within the lifetime does not renew it).
func warmNames(files []string, suffix string) error {
	time.Sleep(reqsTTL + 100*time.Millisecond)
	for _, f := range files {
		if _, err := statAll([]string{f + suffix}); err != nil {
			return err
		}
	}
	return nil
}

// logQuiet waits until the log file has not grown for 150 ms (at most
// 10 s) and returns its size.
func logQuiet(path string) int64 {
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			return 0
		}
		return st.Size()
	}
	last, still := size(), 0
	for deadline := time.Now().Add(10 * time.Second); still < 6 && time.Now().Before(deadline); {
		time.Sleep(25 * time.Millisecond)
		if s := size(); s != last {
			last, still = s, 0
		} else {
			still++
		}
	}
	return last
}

// go-fuse's debug line of a request: "rx UNIQUE: OPCODE nNODE {in} "name"...".
var rxLine = regexp.MustCompile(`\brx \d+: ([A-Z_0-9]+) n\d+([^\n]*)`)
var quoted = regexp.MustCompile(`"([^"]*)"`)

// countRequests counts the requests logged between two offsets of a log.
func countRequests(path string, from, to int64) (map[string]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if to > int64(len(b)) {
		to = int64(len(b))
	}
	if from > to {
		from = to
	}
	c := map[string]int{}
	for _, l := range bytes.Split(b[from:to], []byte("\n")) {
		m := rxLine.FindSubmatch(l)
		if m == nil {
			continue
		}
		op := string(m[1])
		if op == "GETXATTR" {
			if q := quoted.FindSubmatch(m[2]); q != nil {
				op += " " + string(q[1])
			}
		}
		c[op]++
	}
	return c, nil
}

// isAside: requests listed apart and left out of the total: FORGET and
// BATCH_FORGET have no reply and come on the kernel's own time;
// INTERRUPT passes on a signal that reached the waiting caller (the
// workload is this Go program, whose runtime preempts its threads with
// SIGURG), so it is the caller's, not the file system's.
func isAside(req string) bool {
	return req == "FORGET" || req == "BATCH_FORGET" || req == "INTERRUPT"
}

var reqOrder = []string{"LOOKUP", "GETATTR", "ACCESS", "CREATE", "OPEN", "GETXATTR", "WRITE", "SETATTR", "FLUSH", "RELEASE", "RENAME", "RENAME2", "UNLINK", "FORGET", "BATCH_FORGET", "INTERRUPT"}

func reqRank(req string) int {
	op, _, _ := strings.Cut(req, " ")
	if i := slices.Index(reqOrder, op); i >= 0 {
		return i
	}
	return len(reqOrder)
}

func sortedReqs(per map[string]float64) []string {
	var ks []string
	for k, v := range per {
		if v >= 0.005 {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		if a, b := reqRank(ks[i]), reqRank(ks[j]); a != b {
			return a < b
		}
		return ks[i] < ks[j]
	})
	return ks
}

func reqTotal(per map[string]float64) float64 {
	t := 0.0
	for k, v := range per {
		if !isAside(k) {
			t += v
		}
	}
	return t
}

func totalText(per map[string]float64) string {
	if t := reqTotal(per); t >= 0.005 {
		return num(t)
	}
	return "0"
}

// reqList formats the requests per operation: "**5**: LOOKUP 1, ...
// (+ FORGET 1)"; bold only in markdown.
func reqList(per map[string]float64, plain bool) string {
	var parts, aside []string
	for _, k := range sortedReqs(per) {
		s := "`" + k + "` " + num(per[k])
		if plain {
			s = k + " " + num(per[k])
		}
		if isAside(k) {
			aside = append(aside, s)
		} else {
			parts = append(parts, s)
		}
	}
	tot := num(reqTotal(per))
	if len(parts) == 0 {
		tot = "0"
	}
	s := "**" + tot + "**"
	if plain {
		s = tot
	}
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	if len(aside) > 0 {
		s += " (+ " + strings.Join(aside, ", ") + ")"
	}
	return s
}

// reqDiff lists the requests a pays more (or fewer) per operation than b,
// by at least min.
func reqDiff(a, b map[string]float64, min float64) (more, fewer []string) {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		if !isAside(k) {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		return reqRank(ks[i]) < reqRank(ks[j]) || reqRank(ks[i]) == reqRank(ks[j]) && ks[i] < ks[j]
	})
	for _, k := range ks {
		d := a[k] - b[k]
		switch {
		case d >= min:
			more = append(more, fmt.Sprintf("`%s` +%s", k, num(d)))
		case d <= -min:
			fewer = append(fewer, fmt.Sprintf("`%s` −%s", k, num(-d)))
		}
	}
	return more, fewer
}

// reqsBase is the loopback a system's time is compared with: the one
// with the same default_permissions.
func reqsBase(name string) string {
	if name == sNotify1NoDP {
		return sLoopbackNoDP
	}
	return sLoopback
}

func reqsSysTitle(name string) string {
	switch name {
	case sLoopbackNoDP:
		return "loopback, no default_permissions"
	case sNotify1NoDP:
		return "notifyfs+1sub, no default_permissions"
	}
	return name
}

// mdReqs writes the block, markers included.
func (r *report) mdReqs(p printer) {
	q := r.reqs
	if q == nil {
		return
	}
	mode := "full"
	if r.cfg.quick {
		mode = "--quick"
	}
	p("%s\n", reqsBegin)
	p("#### FUSE requests per operation\n\n")
	p("Measured by `go run . --only reqs` or as part of a full run (%s mode, %s, %v; %s, %s cores, kernel %s; the machine is shared and noisy: compare ratios within one run, not absolute times across runs) and rewritten between its markers by either, so the tables above may come from an earlier run. ", mode, q.date, q.elapsed.Round(time.Second), r.env.machine.CPU, r.env.machine.Cores, r.env.machine.Kernel)
	p("Systems: **loopback** = go-fuse's loopback with notifyfs's mount options (as root: `allow_other,default_permissions`), except `HANDLE_KILLPRIV_V2`, which notifyfs negotiates because it clears set-id bits and capabilities on write itself (acting as the caller, SOURCE does it) and a plain loopback does not; **notifyfs** with no subscriber and with one, journal on; and, at the right, both mounted without `default_permissions` (`--default-permissions=false`: the kernel's permission checks off, SOURCE alone decides), which saves the `GETATTR` of the parent that the kernel's check of create, rename and unlink costs. ")
	p("The requests were counted in a separate pass of %s files per operation with request logging on (go-fuse's debug log: `notifyfs mount --debug`, `MountOptions.Debug` in the loopback helper; one `rx` line per request, the log cut after each operation once it has gone quiet, so the `RELEASE` after a close and the `FORGET` after an unlink are in). Before rename and before unlink the benchmark waits 1.1 s, past the mounts' 1 s entry lifetime, and `lstat`s every name once, untimed and uncounted, so that every system starts the operation with all names freshly in the kernel's cache, not with however many happened to outlive their lifetime since the previous operation. The total leaves out `FORGET` and `BATCH_FORGET` (no reply, sent when the kernel drops an inode) and `INTERRUPT` (the kernel passing on a signal that reached the waiting caller: the workload is the Go benchmark process, whose runtime preempts its threads with SIGURG; it belongs to the caller, not to the file system). The `LOOKUP` of create and of rename is the kernel's look-up of the new name (a negative entry) before it makes it; fractions of a `LOOKUP` are names whose entry lifetime ran out during the (logged, slower) pass. ", kfmt(q.countN))
	p("The times come from %d rounds without logging (systems in rotating order, ratios taken within each round): create+write 4 KiB+close of %s files in directories of 1000, `lstat` of each (a warm-up pass, then the timed one), `rename` of each to NAME.r, `unlink` of each (rename and unlink after the wait and the untimed `lstat` pass, as above).\n\n", q.runs, kfmt(q.n))
	p("| operation |")
	for _, s := range q.systems {
		p(" %s |", reqsSysTitle(s.name))
	}
	p("\n|---|" + strings.Repeat("---|", len(q.systems)) + "\n")
	for _, op := range reqsOps {
		p("| %s |", op.title)
		for _, s := range q.systems {
			per, ok := q.counts[op.key][s.name]
			if !ok {
				p(" – |")
				continue
			}
			p(" %s |", reqList(per, false))
		}
		p("\n")
	}
	p("\nTime per operation, µs (median, min–max over rounds), and the ratio to the loopback with the same `default_permissions` within each round (lower is better):\n\n")
	p("| operation |")
	for _, s := range q.systems {
		p(" %s |", reqsSysTitle(s.name))
	}
	for _, s := range q.systems {
		if s.name != sLoopback {
			p(" %s ÷ %s |", reqsSysTitle(s.name), reqsSysTitle(reqsBase(s.name)))
		}
	}
	p("\n|---|" + strings.Repeat("---|", 2*len(q.systems)-1) + "\n")
	for _, op := range reqsOps {
		m := q.times[op.key]
		p("| %s |", op.title)
		for _, s := range q.systems {
			p(" %s |", cell(summarize(m.vals[s.name])))
		}
		for _, s := range q.systems {
			if s.name != sLoopback {
				p(" %s |", ratioCell(summarize(m.ratios(s.name, reqsBase(s.name)))))
			}
		}
		p("\n")
	}
	p("\n")
	// What notifyfs pays beyond the loopback, in words.
	var lines []string
	for _, op := range reqsOps {
		nf, lb, nodp := q.counts[op.key][sNotify1], q.counts[op.key][sLoopback], q.counts[op.key][sNotify1NoDP]
		if nf == nil || lb == nil {
			continue
		}
		// Below reqNoise a difference is the 1 s entry lifetimes running
		// out during one system's (slower, logged) pass, not a request
		// the file system asks for.
		more, fewer := reqDiff(nf, lb, reqNoise)
		smallMore, smallFewer := reqDiff(nf, lb, 0.005)
		l := "- " + op.title + ": notifyfs+1sub " + totalText(nf) + ", loopback " + totalText(lb)
		if nodp != nil {
			l += ", notifyfs+1sub without default_permissions " + totalText(nodp)
			if _, df := reqDiff(nodp, nf, reqNoise); len(df) > 0 {
				l += " (" + strings.Join(df, ", ") + ")"
			}
		}
		switch {
		case len(more) == 0 && len(fewer) == 0:
			l += "; notifyfs pays the same requests as the loopback"
			if small := append(smallMore, smallFewer...); len(small) > 0 {
				l += " (" + strings.Join(small, ", ") + ": names whose 1 s entry lifetime ran out during the logged pass)"
			}
		default:
			if len(more) > 0 {
				l += "; notifyfs pays more: " + strings.Join(more, ", ")
			}
			if len(fewer) > 0 {
				l += "; notifyfs pays fewer: " + strings.Join(fewer, ", ")
			}
		}
		if k := "GETXATTR security.capability"; nf[k] >= 0.05 {
			l += fmt.Sprintf("; notifyfs, which negotiates HANDLE_KILLPRIV_V2, still pays `%s` (%s per operation: the kernel asks whether a file's capabilities must go before its first write)", k, num(nf[k]))
		}
		lines = append(lines, l+".")
	}
	if len(lines) > 0 {
		p("%s\n\n", strings.Join(lines, "\n"))
	}
	p("%s\n", reqsEnd)
}

// spliceReqs puts block (markers included) in place of the old one, or,
// in a report without one, after the small-file tables (before the
// large-file part, or the event section, or at the end).
func spliceReqs(old, block string) string {
	block = strings.TrimRight(block, "\n")
	if i := strings.Index(old, reqsBegin); i >= 0 {
		if j := strings.Index(old[i:], reqsEnd); j >= 0 {
			return old[:i] + block + old[i+j+len(reqsEnd):]
		}
	}
	for _, h := range []string{"\n### 4. Large file", "\n## Event delivery", "\n## Go benchmarks of the hot paths"} {
		if i := strings.Index(old, h); i >= 0 {
			return old[:i+1] + block + "\n\n" + old[i+1:]
		}
	}
	return strings.TrimRight(old, "\n") + "\n\n" + block + "\n"
}
