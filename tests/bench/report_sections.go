package main

// The report's sections on the file-system workloads, event delivery,
// memory, Go benchmarks, the profile and the method (report.go has the
// report itself, its targets and the machine section).

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// systemTable prints a table with a row per metric of keys (and its unit
// when unit is set) and a column per system, filled by value.
func (r *report) systemTable(p printer, keys []string, systems []sysSpec, unit bool, value func(m *metric, s sysSpec) string) {
	p("| workload |")
	if unit {
		p(" unit |")
	}
	for _, s := range systems {
		p(" %s |", s.name)
	}
	p("\n|---|" + strings.Repeat("---|", len(systems)+map[bool]int{true: 1}[unit]) + "\n")
	for _, k := range keys {
		m := r.metric(k)
		p("| %s |", m.title)
		if unit {
			p(" %s |", m.unit)
		}
		for _, s := range systems {
			p(" %s |", value(m, s))
		}
		p("\n")
	}
	p("\n")
}

func (r *report) mdFS(p printer, has func(string) bool) {
	p("## File-system workloads\n\n")
	p("Systems: **native** = the workload on SOURCE itself; **loopback** = go-fuse's own loopback file system with notifyfs's mount options; **bindfs**; **notifyfs** with no subscriber, with 1, and with 10 subscriber connections receiving every event, and **notifyfs+1sub-batch** with one that lets the daemon hold events up to %v to write them together (`batch`, protocol.md); the subscribers are the Go client, `subscribers/client`, in the benchmark process; after each workload every subscriber is synced and checked to have received every event, with no gap and no overflow.\n\n", subBatch)
	p("Each cell is the median of %d rounds with the min–max range in brackets.\n\n", r.cfg.runs)
	groups := []struct {
		title string
		keys  []string
		skip  []string // systems that do not run these workloads
		intro string
	}{
		{"1–3. Small files, stat and readdir, rename and unlink", []string{"create1", "create2", "stat", "readdir1", "readdir2", "rename", "unlink"}, nil, ""},
		{"4. Large file", []string{"seqwrite", "seqread", "randread"}, nil, ""},
		{"5. A real workload: the Go source tree", []string{"tarx", "git1", "git2", "rmrf", "gitclone"}, nil, ""},
		{"5b. `ls -l` of a large directory", []string{"lsl1", "lsl2"}, lsSkip,
			fmt.Sprintf("`ls -l DIR > /dev/null` (GNU ls, `LC_ALL=C`) of a directory of %s empty files made in SOURCE before mounting: the first listing after mounting, when the kernel knows none of the entries (natively they are still in the dentry cache from their creation), and a second one at once. ls reads the names and then `lstat`s each entry (and asks for its ACL/security xattrs), so through FUSE this is `READDIRPLUS` plus whatever lookups, `GETATTR`s and `GETXATTR`s the kernel does not answer from its caches. notifyfs+10sub and notifyfs+1sub-batch are left out: a listing makes no events.\n\n", kfmt(r.cfg.lsDir))},
	}
	for gi, g := range groups {
		if gi == 1 && r.reqs != nil {
			r.mdReqs(p)
			p("\n")
		}
		var systems []sysSpec
		for _, s := range r.fsSystems {
			if !slices.Contains(g.skip, s.name) {
				systems = append(systems, s)
			}
		}
		p("### %s\n\n", g.title)
		p("%s", g.intro)
		r.systemTable(p, g.keys, systems, true, func(m *metric, s sysSpec) string { return cell(summarize(m.vals[s.name])) })
		for _, base := range []string{sNative, sLoopback} {
			p("Ratio to **%s**, per round (%s):\n\n", base, map[bool]string{true: "throughput ratio, higher is better", false: "time ratio, lower is better"}[g.keys[0] == "seqwrite"])
			p("| workload |")
			for _, s := range systems {
				if s.name != base {
					p(" %s |", s.name)
				}
			}
			p("\n|---|" + strings.Repeat("---|", len(systems)-1) + "\n")
			for _, k := range g.keys {
				m := r.metric(k)
				p("| %s |", m.title)
				for _, s := range systems {
					if s.name != base {
						p(" %s |", ratioCell(summarize(m.ratios(s.name, base))))
					}
				}
				p("\n")
			}
			p("\n")
		}
		// Daemon CPU and delivery tail.
		p("Daemon CPU time (user+system, from /proc/PID/stat, including delivery to the subscribers; µs per operation where the workload counts operations, else ms) and the time the subscribers still needed, after the workload returned, to receive everything (ms):\n\n")
		p("| workload |")
		var daemons []sysSpec
		for _, s := range systems {
			if s.kind != kNative {
				daemons = append(daemons, s)
				p(" %s CPU |", s.name)
			}
		}
		var tails []string
		for _, s := range systems {
			if s.subs > 0 {
				tails = append(tails, s.name)
				p(" +%dsub tail |", s.subs)
			}
		}
		p("\n|---|" + strings.Repeat("---|", len(daemons)+len(tails)) + "\n")
		for _, k := range g.keys {
			m := r.metric(k)
			u := "ms"
			if m.unit != "ms" && m.unit != "s" && m.unit != "MiB/s" {
				u = "µs/op"
			}
			p("| %s (%s) |", m.title, u)
			for _, s := range daemons {
				p(" %s |", num(summarize(m.cpu[s.name]).med))
			}
			for _, t := range tails {
				p(" %s |", num(summarize(m.tail[t]).med))
			}
			p("\n")
		}
		p("\n")
		if gi == 0 {
			p("Daemon context switches (all its threads, voluntary and involuntary, from /proc/PID/task/*/status; per operation where the workload counts operations, else per run). On this 2-core VM a thread switch costs more than most of the work a request does, so this count follows the CPU time above: a FUSE request costs about two (the reader thread woken by the kernel, and put to sleep again), and an event delivered to a subscriber up to one more (the connection's writer goroutine woken on the other core, when it was asleep); see [Context switches](#context-switches-what-a-small-file-operation-pays-for-its-events).\n\n")
		} else {
			p("Daemon context switches (per operation, or per run; as in section 1–3):\n\n")
		}
		r.systemTable(p, g.keys, daemons, false, func(m *metric, s sysSpec) string { return num(summarize(m.cs[s.name]).med) })
	}
	for _, f := range []struct{ file, alt string }{
		{"smallfile-vs-native.png", "small-file operations relative to native"},
		{"smallfile-vs-loopback.png", "small-file operations relative to the plain loopback"},
		{"create-growth.png", "create cost as N grows"},
		{"throughput.png", "sequential throughput"},
		{"realworld-vs-native.png", "real workload relative to native"},
	} {
		if has(f.file) {
			p("![%s](img/%s)\n\n", f.alt, f.file)
		}
	}
}

func (r *report) mdLatency(p printer, has func(string) bool) {
	if len(r.lat) == 0 {
		return
	}
	p("### 6. Latency: operation return → subscriber receives the event\n\n")
	p("A writer creates %d files, one every %v (paced, not flooded), and records when each `open(O_CREAT)` returns (monotonic clock); the subscriber records when the `create` event reaches it; events are matched by path. notifyfs: the Go client in the same process, receiving every event type. inotify: `inotifywait -m -r -e create --format %%w%%f` on native SOURCE, timed when its line arrives on the pipe. For 10 subscribers every subscriber's receipt counts as a sample. A negative latency means the event arrived before the call had returned (notifyfs publishes before it replies to the kernel).\n\n", r.latOps, r.latPace)
	p("| system | p50 µs | p99 µs | p99.9 µs | max µs | lost |\n|---|---|---|---|---|---|\n")
	for _, sys := range r.latSystems {
		var p50, p99, p999, mx []float64
		lost := 0
		for _, l := range r.lat {
			if l.sys != sys {
				continue
			}
			p50 = append(p50, percentile(l.samples, 50))
			p99 = append(p99, percentile(l.samples, 99))
			p999 = append(p999, percentile(l.samples, 99.9))
			mx = append(mx, percentile(l.samples, 100))
			lost += l.missing
		}
		p("| %s | %s | %s | %s | %s | %d |\n", sys, cell(summarize(p50)), cell(summarize(p99)), cell(summarize(p999)), cell(summarize(mx)), lost)
	}
	p("\nPercentiles are per round; the cells show their median and min–max over %d rounds.\n\n", r.cfg.runs)
	if has("latency-cdf.png") {
		p("![latency distribution](img/latency-cdf.png)\n\n")
	}
}

func (r *report) mdRate(p printer, has func(string) bool) {
	if len(r.rateSteps) == 0 {
		return
	}
	p("### 7. Sustained event rate to one subscriber\n\n")
	p("**Bus → socket → client.** The real bus and socket server (in a helper process, no file system in front) publish synthetic `create` events (~%d-byte JSON lines) at a fixed rate for %v; one subscriber, the Go client, receives them. *Delivered* counts from the first publish to the last event received; *lost* is published minus received (an `overflow` would say so); *drain* is how long the subscriber still needed after the publisher stopped.\n\n", 230, r.rateDur)
	p("Two subscribers take turns at each rate: the Go client (`subscribers/client`: reads, decodes each event into an `eventbus.Event`, hands it over a channel), and a raw reader that only splits lines and reads the seq — the cheapest possible client, which shows what the server side alone can deliver.\n\n")
	p("| offered events/s | published/s | delivered/s, Go client | lost | drain ms | delivered/s, raw reader | lost | drain ms |\n|---|---|---|---|---|---|---|---|\n")
	for i := range r.rateSteps[rateClient] {
		st, rw := r.rateSteps[rateClient][i], r.rateSteps[rateRaw][i]
		if len(st) == 0 {
			continue
		}
		col := func(st []rateStep) (pub, del, dr summary, lost int64) {
			var p, d, x []float64
			for _, s := range st {
				p = append(p, s.published)
				d = append(d, s.delivered)
				x = append(x, float64(s.drain)/1e6)
				lost += s.lost
			}
			return summarize(p), summarize(d), summarize(x), lost
		}
		pub, del, dr, lost := col(st)
		_, rdel, rdr, rlost := col(rw)
		off := "as fast as possible"
		if st[0].offered > 0 {
			off = kfmtF(st[0].offered)
		}
		p("| %s | %s | %s | %d | %s | %s | %d | %s |\n", off, kfmtCell(pub), kfmtCell(del), lost, cell(dr), kfmtCell(rdel), rlost, cell(rdr))
	}
	best, _ := r.sustained(rateClient)
	raw, _ := r.sustained(rateRaw)
	p("\nHighest offered rate sustained in every round with nothing lost and ≥ 95%% delivered while publishing: **%s with the Go client**, %s events/s with the raw reader. (Past the sustained rate the subscriber falls behind and reads from the ring; it loses events only once it is more than the ring's 262144 events behind, and then is told so by an `overflow` event.)\n\n", sustainedText(best), kfmtF(raw))
	if has("event-rate.png") {
		p("![event rate](img/event-rate.png)\n\n")
	}
	r.mdBacklog(p)
	if len(r.fsRates) > 0 {
		p("**Driven through the file system.** Two writer threads make directories as fast as they can for %v (one event each): through notifyfs with one subscriber, and natively on SOURCE with a Go inotify reader (`unix.InotifyInit1`) watching. Here the file system, not the event path, sets the rate.\n\n", r.rateDur)
		p("| system | events/s received | mkdir/s made | lost | overflow events |\n|---|---|---|---|---|\n")
		for _, sys := range []string{"notifyfs (1 subscriber)", "inotify (Go reader, native)"} {
			var rate, ops []float64
			var lost int64
			ov := 0
			for _, f := range r.fsRates {
				if f.sys == sys {
					rate = append(rate, f.rate)
					ops = append(ops, f.opsRate)
					lost += f.lost
					ov += f.overflows
				}
			}
			if len(rate) > 0 {
				p("| %s | %s | %s | %d | %d |\n", sys, kfmtCell(summarize(rate)), kfmtCell(summarize(ops)), lost, ov)
			}
		}
		p("\n")
	}
	if len(r.bursts) > 0 {
		p("**A burst the reader does not read.** %s directories made while the reader reads nothing, then it reads everything: inotify's queue holds `max_queued_events` = %s and then drops everything else behind one `IN_Q_OVERFLOW`; a notifyfs subscriber that stopped reading (a raw socket connection, not reading) falls back to the bus's ring of 262144 events and gets them all once it reads again.\n\n", kfmt(r.bursts[0].made), r.env.machine.MaxQueuedEvents)
		p("| system | made | received | lost | overflow events |\n|---|---|---|---|---|\n")
		for _, bu := range r.bursts {
			p("| %s | %d | %d | %d | %d |\n", bu.sys, bu.made, bu.received, bu.lost, bu.overflows)
		}
		p("\n")
	}
}

func kfmtCell(s summary) string {
	if s.n == 0 {
		return "–"
	}
	if s.n == 1 {
		return kfmtF(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", kfmtF(s.med), kfmtF(s.min), kfmtF(s.max))
}

func (r *report) mdRSS(p printer, has func(string) bool) {
	if len(r.rss) == 0 {
		return
	}
	p("### 8. Daemon memory after walking a tree\n\n")
	p("A tree of directories of 1000 empty files is made natively, mounted, and every entry is listed and `lstat`-ed through the mount; then VmRSS and VmHWM of the daemon process are read from /proc/PID/status. notifyfs runs with no subscriber (a walk makes no events).\n\n")
	p("| entries | system | RSS before | RSS after the walk | peak (VmHWM) | per entry | walk time |\n|---|---|---|---|---|---|---|\n")
	for _, n := range r.cfg.rssTrees {
		for _, s := range r.rssSystems {
			var base, rss, hwm, per, walk []float64
			for _, x := range r.rss {
				if x.sys == s.name && x.entries == n {
					base = append(base, float64(x.base)/(1<<20))
					rss = append(rss, float64(x.rss)/(1<<20))
					hwm = append(hwm, float64(x.hwm)/(1<<20))
					per = append(per, float64(x.rss-x.base)/float64(n))
					walk = append(walk, x.walk.Seconds())
				}
			}
			if len(rss) == 0 {
				continue
			}
			p("| %s | %s | %s MiB | %s MiB | %s MiB | %s B | %s s |\n", kfmt(n), s.name, cell(summarize(base)), cell(summarize(rss)), cell(summarize(hwm)), cell(summarize(per)), cell(summarize(walk)))
		}
	}
	p("\n")
	if len(r.cfg.rssTrees) > 1 {
		p("The %s-entry walk is one round (it takes minutes per system); the smaller ones are %d rounds.\n\n", kfmt(r.cfg.rssTrees[len(r.cfg.rssTrees)-1]), r.cfg.runs)
	}
	if has("rss.png") {
		p("![daemon memory](img/rss.png)\n\n")
	}
}

func (r *report) mdGoBench(p printer) {
	if !slices.ContainsFunc(r.gobench, func(g *goBench) bool { return !g.cluster }) {
		return
	}
	p("## Go benchmarks of the hot paths\n\n")
	p("Event construction, publish and fan-out, JSON encoding (`eventbus`), and the FUSE operation wrappers through an in-process notifyfs mount with 0 and 1 subscriber (journal on), against go-fuse's loopback with the same mount options and the same calls on SOURCE (`tests/fuse_bench_test.go`). The FUSE targets count the requests their server receives (a counting wrapper around go-fuse's RawFileSystem) and report them per operation by opcode (`lookup/op`, `getxattr/op`, ..., `total-req/op` without forgets); the notifyfs targets report their time relative to the loopback's in the same run (`x-loopback`).\n\n")
	for _, g := range r.gobench {
		if g.cluster {
			continue // in the cluster section
		}
		p("`%s`", g.cmd)
		if g.err != "" {
			p(" — failed: %s", g.err)
		}
		p("\n\n")
		rows := parseBench(g.output)
		if len(rows) == 0 {
			p("```\n%s\n```\n\n", tailLines(g.output, 30))
			continue
		}
		p("| benchmark | iterations | ns/op | B/op | allocs/op | other |\n|---|---|---|---|---|---|\n")
		for _, row := range rows {
			p("| %s | %s | %s | %s | %s | %s |\n", row.name, row.iters, row.nsop, row.bop, row.allocs, row.other)
		}
		p("\n")
	}
}

type benchRow struct{ name, iters, nsop, bop, allocs, other string }

// benchResult is one result line of go test -bench: the benchmark's
// name, then iterations and value-unit pairs.
type benchResult struct {
	name string
	f    []string // iterations, value, unit, value, unit, ...
}

// benchResults finds the result lines in go test -bench output. A line
// the benchmark logged while it ran splits its result: go test prints the
// name, then the log line after it, then the figures on a line of their
// own; those figures are given back to the name.
func benchResults(out string) []benchResult {
	var res []benchResult
	pending := ""
	isResult := func(f []string) bool {
		if len(f) < 3 || len(f)%2 == 0 {
			return false
		}
		if _, err := strconv.Atoi(f[0]); err != nil {
			return false
		}
		_, err := strconv.ParseFloat(f[1], 64)
		return err == nil
	}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		if strings.HasPrefix(f[0], "Benchmark") {
			if isResult(f[1:]) {
				res = append(res, benchResult{name: f[0], f: f[1:]})
				pending = ""
			} else {
				pending = f[0]
			}
			continue
		}
		if pending != "" && isResult(f) && (l[0] == ' ' || l[0] == '\t') {
			res = append(res, benchResult{name: pending, f: f})
			pending = ""
		}
	}
	return res
}

func parseBench(out string) []benchRow {
	var rows []benchRow
	for _, br := range benchResults(out) {
		f := append([]string{br.name}, br.f...)
		row := benchRow{name: f[0], iters: f[1]}
		var other []string
		for i := 2; i+1 < len(f); i += 2 {
			switch f[i+1] {
			case "ns/op":
				row.nsop = f[i]
			case "B/op":
				row.bop = f[i]
			case "allocs/op":
				row.allocs = f[i]
			default:
				other = append(other, f[i]+" "+f[i+1])
			}
		}
		row.other = strings.Join(other, ", ")
		rows = append(rows, row)
	}
	return rows
}

func (r *report) mdProfile(p printer) {
	if r.profile == nil && r.profileErr == "" {
		return
	}
	p("## Where the time goes (CPU profile)\n\n")
	if r.profile == nil {
		p("The profiling run failed: %s\n\n", r.profileErr)
		return
	}
	pr := r.profile
	p("An in-process notifyfs (`fusefs` + `eventbus` + `subscribers`, wired as `notifyfs mount -f` does) in a helper process, profiled with runtime/pprof while the benchmark ran %s, then `go tool pprof -top`. The profile is committed as [img/notifyfs-cpu.pprof](img/notifyfs-cpu.pprof).\n\n", pr.workload)
	r.mdProfileSummary(p)
	p("<details><summary>pprof -top (flat)</summary>\n\n```\n%s\n```\n</details>\n\n", trimPprof(pr.flat))
	p("<details><summary>pprof -top -cum</summary>\n\n```\n%s\n```\n</details>\n\n", trimPprof(pr.cum))
}

// trimPprof drops pprof's header noise but keeps the totals line.
func trimPprof(s string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Type:") || strings.HasPrefix(l, "Time:") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func (r *report) mdMethod(p printer) {
	p("## Method\n\n")
	p("- Every system gets its own SOURCE directory on the same file system; all of them are mounted at the start of a round and unmounted at its end. Within a round each workload runs on every system before the next workload starts, in an order that rotates by one system per round, so that drift (page cache, writeback, CPU frequency) falls on all of them alike. Ratios are computed within each round, then summarized.\n")
	p("- Workloads use raw system calls from one thread (`unix.Open/Write/Close`, `Lstat`, `Getdents`, `Rename`, `Unlink`, `Pread`). Small files are spread over directories of 1000. *stat of a warm tree*: every file of the N=%s tree is `lstat`-ed once untimed, then timed on the second pass. *readdir*: `getdents` of a directory of %s entries made in SOURCE before mounting (names only, no stat); the first listing after mounting and a second one. *Large file*: one file written in 1 MiB writes and closed, `sync`-ed untimed, read back in 1 MiB reads, then %s random 4 KiB `pread`s; all from the page cache (the systems' pathways are compared, not the disk). *Real workload*: an uncompressed tar of the Go distribution's `src` tree (%s files, a git repository with one commit) is extracted with `tar -xf`, then `git status --porcelain` runs twice (the first one re-reads every file because the index's stat data do not match the new inodes), then `rm -rf`; then `git clone --no-hardlinks` of the same repository from a bare copy on the data file system outside every SOURCE (read natively on every system, so what differs is writing the objects and checking out the tree), removed again untimed. *ls -l*: `ls -l DIR > /dev/null` of a directory of %s empty files made in SOURCE before mounting, the first listing after mounting and a second one.\n",
		kfmt(r.cfg.smallN[len(r.cfg.smallN)-1]), kfmt(r.cfg.flatDir), kfmt(r.cfg.randReads), kfmt(r.tarFiles), kfmt(r.cfg.lsDir))
	p("- Subscribers run in the benchmark process and share its 2 cores with the workload and the daemon; their cost is part of what the notifyfs+N columns show. After every workload the benchmark waits for every subscriber to be in sync (`Sync`, then all events up to its seq received) before the next system's turn.\n")
	p("- Daemon CPU is read from /proc/PID/stat (10 ms resolution), memory from /proc/PID/status.\n")
	if r.cfg.quick {
		p("- This is a `--quick` run: smaller N, %s sequential file, fewer rounds, no 1M-entry memory walk. The committed report comes from a full run.\n", sizeFmt(r.cfg.seqBytes))
	}
	p("\n")
}

func (r *report) mdRaw(p printer) {
	if len(r.fs) == 0 {
		return
	}
	p("<details><summary>Per-round values of the file-system workloads</summary>\n\n")
	p("| workload | unit | system | rounds |\n|---|---|---|---|\n")
	for _, m := range r.fs {
		for _, s := range r.fsSystems {
			if len(m.vals[s.name]) == 0 {
				continue
			}
			var parts []string
			for _, v := range m.vals[s.name] {
				parts = append(parts, num(v))
			}
			p("| %s | %s | %s | %s |\n", m.key, m.unit, s.name, strings.Join(parts, ", "))
		}
	}
	p("\n</details>\n")
}
