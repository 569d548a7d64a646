package main

// The "underneath" section of docs/performance.md: tables, targets, the
// plot, and the splice that lets `--only underneath` replace just this
// section in an existing report.

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The section is written between these markers, so that a run with
// --only underneath replaces it in the existing report and leaves the
// rest (measured by a full run) as it was.
const (
	undBegin = "<!-- underneath:begin -->"
	undEnd   = "<!-- underneath:end -->"
)

const undLatencyPlot = "underneath-latency.png"

// onlySpliced: this run measured only sections that have markers of
// their own (underneath, reqs), so it must not replace the rest of the
// report.
func (r *report) onlySpliced() bool {
	if r.cfg.only == "" {
		return false
	}
	for _, s := range strings.Split(r.cfg.only, ",") {
		if s != "underneath" && s != "reqs" {
			return false
		}
	}
	return true
}

// writeSplicedOnly splices the sections measured into an existing
// report. false: there is no report yet to splice into.
func (r *report) writeSplicedOnly(file string, figs []string) (bool, error) {
	old, err := os.ReadFile(file)
	if err != nil {
		return false, nil
	}
	s := string(old)
	if r.und != nil {
		var b strings.Builder
		r.mdUnderneath(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }, func(f string) bool { return slices.Contains(figs, f) })
		s = spliceUnderneath(s, b.String())
	}
	if r.reqs != nil {
		var b strings.Builder
		r.mdReqs(func(format string, args ...any) { fmt.Fprintf(&b, format, args...) })
		s = spliceReqs(s, b.String())
	}
	return true, os.WriteFile(file, []byte(s), 0o644)
}

// spliceUnderneath puts block (markers included) in place of the old
// section, or, in a report without one, before the Go benchmarks (or the
// method, or at the end).
func spliceUnderneath(old, block string) string {
	block = strings.TrimRight(block, "\n")
	if i := strings.Index(old, undBegin); i >= 0 {
		if j := strings.Index(old[i:], undEnd); j >= 0 {
			return old[:i] + block + old[i+j+len(undEnd):]
		}
	}
	for _, h := range []string{"\n## Go benchmarks of the hot paths", "\n## Where the time goes", "\n## Method"} {
		if i := strings.Index(old, h); i >= 0 {
			return old[:i+1] + block + "\n\n" + old[i+1:]
		}
	}
	return strings.TrimRight(old, "\n") + "\n\n" + block + "\n"
}

// undP99 returns the per-round p99 latencies (µs) of a backend.
func (u *undResults) latPct(sys string, pc float64) []float64 {
	var v []float64
	for _, l := range u.lat {
		if l.sys == sys && len(l.samples) > 0 {
			v = append(v, percentile(l.samples, pc))
		}
	}
	return v
}

// undTargets are the section's targets with their measured values.
func (r *report) undTargets() []target {
	u := r.und
	if u == nil {
		return nil
	}
	var ts []target
	for _, sys := range []string{uFanotify.name, uInotify.name} {
		if !slices.Contains(u.latSystems, sys) {
			continue
		}
		s := summarize(u.latPct(sys, 99))
		ts = append(ts, target{what: "latency, change made on SOURCE (underneath) → subscriber, " + sys, goal: "p99 ≤ 20 ms",
			measured: "p99 " + msCell(s) + " ms", met: verdict(s.n > 0 && s.med <= 20000)})
	}
	if u.stat != nil {
		for _, sys := range []string{"notifyfs " + uFanotify.name, "notifyfs " + uInotify.name} {
			if _, ok := u.stat.vals[sys]; !ok {
				continue
			}
			for _, m := range []*metric{u.stat, u.stat2} {
				ts = append(ts, ratioTarget(m.title+", "+sys+" (cache lifetimes "+u.statTTL[sys]+")", m, sys, uNative, goalStatNative, false, "native"))
			}
		}
	}
	return ts
}

// cpuMs shows a CPU time in ms (10 ms resolution): 0 as "0".
func cpuMs(v float64) string {
	if v == 0 {
		return "0"
	}
	return num(v)
}

// msCell shows a µs summary in ms.
func msCell(s summary) string {
	return cell(summary{med: s.med / 1e3, min: s.min / 1e3, max: s.max / 1e3, n: s.n})
}

func (r *report) plotUnderneath(img string, plotErr func(string, error)) {
	if r.und == nil || len(r.und.lat) == 0 {
		return
	}
	plotErr(undLatencyPlot, undLatencyCDF(filepath.Join(img, undLatencyPlot), r.und))
}

func (r *report) mdUnderneath(p printer, has func(string) bool) {
	u := r.und
	if u == nil {
		return
	}
	c := u.sizes
	mode := "full"
	if r.cfg.quick {
		mode = "--quick"
	}
	p("%s\n", undBegin)
	p("## Changes made underneath the mount (kqshim)\n\n")
	p("Changes made directly on SOURCE, by processes that bypass the mount, are seen by kqshim and published with origin `backing`; with a kernel backend (fanotify, inotify) the mount's kernel cache lifetimes default to 1 minute, kept true by invalidation, with `poll` or `off` to 1 s. ")
	p("This section was measured by `go run . --only underneath` or as part of a full run (%s mode, %v, %s, kernel %s, %s cores) and is rewritten between its markers by either, so the rest of this page may come from an earlier run. ", mode, u.elapsed.Round(time.Second), r.env.machine.Date, r.env.machine.Kernel, r.env.machine.Cores)
	p("Every daemon is `notifyfs mount -f --underneath BACKEND` as a process of its own, one at a time (fanotify marks SOURCE's whole filesystem, and every SOURCE here is on the same ext4, so a second daemon's work would reach the first one's watcher); the changes underneath are made by the benchmark process (fanotify drops the daemon's own changes as echoes of the mount's).\n\n")
	if u.failure != "" {
		p("> **This section failed:** %s — what it measured before is shown.\n\n", u.failure)
	}
	for b, why := range u.unavailable {
		p("- `%s` could not run here and is left out: %s\n", b, why)
	}
	if len(u.unavailable) > 0 {
		p("\n")
	}
	if ts := r.undTargets(); len(ts) > 0 {
		p("| target | goal | measured (median, min–max over rounds) | |\n|---|---|---|---|\n")
		for _, t := range ts {
			p("| %s | %s | %s | %s |\n", t.what, t.goal, t.measured, t.met)
		}
		p("\n")
	}
	r.mdUndReading(p)

	if len(u.lat) > 0 {
		p("### Latency: change on SOURCE → subscriber\n\n")
		p("Per run a fresh daemon with one subscriber (the Go client in this process, receiving every event); this process creates %d files directly in SOURCE, one every %v, and records when each `open(O_CREAT)` returns; the subscriber records when the `create` event with origin `backing` reaches it; events are matched by path. The run waits for the events to arrive by themselves before its closing `sync` (which would make the poll backend scan at once). %d rounds, backends in rotating order; cells are the median and min–max of the per-round percentiles.\n\n", c.latOps, c.latPace, c.latRounds)
		p("| backend | p50 ms | p99 ms | max ms | lost | doubled |\n|---|---|---|---|---|---|\n")
		for _, sys := range u.latSystems {
			lost := 0
			for _, l := range u.lat {
				if l.sys == sys {
					lost += l.missing
				}
			}
			p("| %s | %s | %s | %s | %d | %d |\n", sys, msCell(summarize(u.latPct(sys, 50))), msCell(summarize(u.latPct(sys, 99))), msCell(summarize(u.latPct(sys, 100))), lost, u.doubled[sys])
		}
		p("\n")
		if has(undLatencyPlot) {
			p("![underneath latency](img/%s)\n\n", undLatencyPlot)
		}
	}

	if len(u.tree) > 0 {
		p("### Start-up and memory with a tree of %s directories\n\n", kfmtF(float64(u.treeDirs)))
		p("A tree of %d × %d empty directories (%d in all with the top ones and the root; made natively in %v) is SOURCE. ", c.treeTop, c.treeFan, u.treeDirs, u.treeBuild.Round(time.Millisecond))
		if r.cfg.quick {
			p("(`--quick`: a tree of %d directories; the full run uses 100 × 1000.) ", u.treeDirs)
		}
		p("Per run, one backend: *start-up* is from starting the daemon to its ready signal, which comes after the watcher covers the whole tree. Then the daemon's status (`underneath.watches` for inotify, `mark` for fanotify, `objects` for poll), its kernel notification state from /proc/PID/fdinfo (one `inotify wd:` line per inotify watch, one `fanotify` line per fanotify mark), VmRSS right after ready; then nothing happens for %v (for the poll backend two intervals, at least, so that its scans are in the window): the daemon's CPU over that window, and VmRSS and VmHWM after it. ", c.idle)
		p("Then *changes in the tree*: a subscriber connects and this process creates %d files in one of the top directories, one every %v, timed as in the latency table above. ", c.treeLatOps, c.treeLatPace)
		p("Last, *inodes held in the kernel*: after `sync` and `echo 2 > /proc/sys/vm/drop_caches` (twice; drops every clean dentry and unused inode), the inodes still in memory (`nr_inodes` of /proc/sys/fs/inode-nr, all filesystems of the machine), minus the same count with `--underneath off` in the same round: an inotify watch pins its directory's inode, a fanotify filesystem mark pins nothing per directory (not measured for poll, which holds nothing in the kernel: the dropped caches would only make its next scan slow). %d round(s), backends in rotating order; poll at 100 ms in the first round only (it takes a core for as long as it runs).\n\n", c.treeRounds)
		p("| backend | start-up s | RSS after ready MiB | RSS after the idle window MiB | peak (VmHWM) MiB | idle CPU, %% of a core | status | kernel (fdinfo) | inodes held (vs off) | changes in the tree: p50 / max ms |\n|---|---|---|---|---|---|---|---|---|---|\n")
		for _, sys := range u.treeSystems {
			var st, rr, rs, hw, cpu, pin, l50, lmax []float64
			var one *treeRun
			for _, t := range u.tree {
				if t.sys != sys {
					continue
				}
				one = t
				st = append(st, t.startup.Seconds())
				rr = append(rr, float64(t.rssReady)/(1<<20))
				rs = append(rs, float64(t.rss)/(1<<20))
				hw = append(hw, float64(t.hwm)/(1<<20))
				cpu = append(cpu, t.idleCPU)
				if off := u.treeRunOf(uOff.name, t.round); off != nil && t.inodesPinned >= 0 && off.inodesPinned >= 0 {
					pin = append(pin, float64(t.inodesPinned-off.inodesPinned))
				}
				if t.lat != nil && len(t.lat.samples) > 0 {
					l50 = append(l50, percentile(t.lat.samples, 50))
					lmax = append(lmax, percentile(t.lat.samples, 100))
				}
			}
			if one == nil {
				continue
			}
			status := "–"
			switch {
			case one.watches >= 0:
				status = fmt.Sprintf("watches %d", one.watches)
			case one.mark != "":
				status = "mark " + one.mark + ", no watches"
			case one.objects >= 0:
				status = fmt.Sprintf("objects %d", one.objects)
			}
			kern := "none"
			switch {
			case one.kInotify > 0:
				kern = fmt.Sprintf("%d inotify watches", one.kInotify)
			case one.kFanotify > 0:
				kern = fmt.Sprintf("%d fanotify mark(s), %d of them filesystem", one.kFanotify, one.kFanotifyFS)
			}
			pinCell := "–"
			if strings.HasPrefix(sys, "poll") {
				pinCell = "not measured"
			} else if sys == uOff.name {
				pinCell = "(baseline)"
			} else if len(pin) > 0 {
				s := summarize(pin)
				pinCell = cell(s)
				if u.inodeSize > 0 && s.med > 1000 {
					pinCell += fmt.Sprintf(" ≈ %s MiB", num(s.med*float64(u.inodeSize)/(1<<20)))
				}
			}
			latCell := "–"
			if len(l50) > 0 {
				latCell = msCell(summarize(l50)) + " / " + msCell(summarize(lmax))
			}
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", sys, cell(summarize(st)), cell(summarize(rr)), cell(summarize(rs)), cell(summarize(hw)), cell(summarize(cpu)), status, kern, pinCell, latCell)
		}
		p("\n")
		if u.inodeSize > 0 {
			p("MiB of inodes held: the count × %d bytes, the size of an ext4 inode in memory here (`ext4_inode_cache` object); the inotify watch itself (`inotify_inode_mark`, a few dozen bytes) comes on top. Differences of a few hundred either way are the rest of the machine.\n\n", u.inodeSize)
		}
	}

	if u.stat != nil && len(u.stat.vals) > 0 {
		p("### Stat of a warm tree with long cache lifetimes\n\n")
		p("A tree of %s empty files in directories of 1000, made natively in each system's SOURCE before any daemon starts. Per round and system: mount, `lstat` every file once (warm-up, untimed), then time a second full pass at once, and a third one %v after the second (past 1 s lifetimes, well within 1 min ones); unmount. ", kfmt(c.statN), c.statPause)
		p("notifyfs runs with each watcher's default lifetimes: 1 min with fanotify or inotify, 1 s with `off` (the lifetimes of the file-system section above, and of the plain loopback). %d rounds, systems in rotating order, one mounted at a time; ratios inside each round. Daemon CPU during a timed pass is from /proc/PID/stat (10 ms resolution).\n\n", c.statRounds)
		p("| system | cache lifetimes | µs/stat, at once | × native | µs/stat, %v later | × native | daemon CPU, at once / later, ms |\n|---|---|---|---|---|---|---|\n", c.statPause)
		for _, sys := range u.statSystems {
			r1, r2 := "1×", "1×"
			if sys != uNative {
				r1 = ratioCell(summarize(u.stat.ratios(sys, uNative)))
				r2 = ratioCell(summarize(u.stat2.ratios(sys, uNative)))
			}
			cpu := "–"
			if v, ok := u.stat.cpu[sys]; ok {
				cpu = cpuMs(summarize(v).med) + " / " + cpuMs(summarize(u.stat2.cpu[sys]).med)
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", sys, u.statTTL[sys], cell(summarize(u.stat.vals[sys])), r1, cell(summarize(u.stat2.vals[sys])), r2, cpu)
		}
		p("\n")
	}

	if len(u.tput) > 0 && len(u.tputSystems) > 0 {
		p("### What the watcher costs the small-file workload through the mount\n\n")
		p("Every operation through the mount is announced to the watcher before it is made, and with fanotify or inotify the kernel also reports it back to the daemon, to be recognised as an echo and dropped. Per round and system: a fresh daemon with one subscriber; through the mount, create+write 4 KiB+close %s files (directories of 1000), rename each, unlink each; after each workload the subscriber is synced and checked (every event received, no gap, no overflow). %d rounds, systems in rotating order, one at a time; ratios to `off` inside each round.\n\n", kfmt(c.tputN), c.tputRounds)
		p("| workload | unit |")
		for _, s := range u.tputSystems {
			p(" %s |", s)
		}
		for _, s := range u.tputSystems[1:] {
			p(" %s ÷ off |", strings.TrimPrefix(s, "notifyfs "))
		}
		p("\n|---|---|" + strings.Repeat("---|", 2*len(u.tputSystems)-1) + "\n")
		off := u.tputSystems[0]
		for _, m := range u.tput {
			p("| %s | %s |", m.title, m.unit)
			for _, s := range u.tputSystems {
				p(" %s |", cell(summarize(m.vals[s])))
			}
			for _, s := range u.tputSystems[1:] {
				p(" %s |", ratioCell(summarize(m.ratios(s, off))))
			}
			p("\n")
		}
		p("| daemon CPU, create (µs/file) | µs |")
		for _, s := range u.tputSystems {
			p(" %s |", cell(summarize(u.tput[0].cpu[s])))
		}
		p(strings.Repeat(" |", len(u.tputSystems)-1) + "\n")
		p("| events received per file (all three workloads) | |")
		for _, s := range u.tputSystems {
			p(" %s |", cell(summarize(u.tputEvents[s])))
		}
		p(strings.Repeat(" |", len(u.tputSystems)-1) + "\n")
		p("| events with origin `backing` (echoes that got through) | |")
		for _, s := range u.tputSystems {
			p(" %d |", u.tputBacking[s])
		}
		p(strings.Repeat(" |", len(u.tputSystems)-1) + "\n\n")
	}
	p("%s\n", undEnd)
}

func (u *undResults) treeRunOf(sys, round string) *treeRun {
	for _, t := range u.tree {
		if t.sys == sys && t.round == round {
			return t
		}
	}
	return nil
}

func (u *undResults) treeMed(sys string, f func(*treeRun) float64) float64 {
	var v []float64
	for _, t := range u.tree {
		if t.sys == sys {
			v = append(v, f(t))
		}
	}
	return summarize(v).med
}

// mdUndReading is the short reading of the section; every number in it
// comes from this run.
func (r *report) mdUndReading(p printer) {
	u := r.und
	med := func(v []float64) float64 { return summarize(v).med }
	ms := func(us float64) string { return num(us/1e3) + " ms" }
	has := func(list []string, s string) bool { return slices.Contains(list, s) }
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	if len(u.lat) > 0 {
		var kern, poll []string
		for _, sys := range u.latSystems {
			t := fmt.Sprintf("%s p50 %s, p99 %s", sys, ms(med(u.latPct(sys, 50))), ms(med(u.latPct(sys, 99))))
			if strings.HasPrefix(sys, "poll") {
				poll = append(poll, t)
			} else {
				kern = append(kern, t)
			}
		}
		l := "*Latency.* "
		if len(kern) > 0 {
			l += fmt.Sprintf("With a kernel backend: %s. Once the kernel's queue is readable the daemon lets notes gather for 1 ms (so that a busy mount's notes are read in one wake-up; a `sync` skips the pause), then describes each object (a `stat`), invalidates the mount's caches and publishes: that millisecond is most of the median; the tail is scheduling, as the writer, the daemon and the subscriber share 2 cores. ", strings.Join(kern, "; "))
		}
		if len(poll) > 0 {
			l += fmt.Sprintf("The poll backend reports a change at its next scan: %s — half an interval on average, up to a whole one, plus the scan, which grows with the tree (see the changes in the big tree below).", strings.Join(poll, "; "))
		}
		add("%s", l)
	}
	if len(u.tree) > 0 {
		st := func(sys string) float64 {
			return u.treeMed(sys, func(t *treeRun) float64 { return t.startup.Seconds() })
		}
		rss := func(sys string) float64 {
			return u.treeMed(sys, func(t *treeRun) float64 { return float64(t.rss) / (1 << 20) })
		}
		cpu := func(sys string) float64 { return u.treeMed(sys, func(t *treeRun) float64 { return t.idleCPU }) }
		pinned := func(sys string) float64 {
			var v []float64
			for _, t := range u.tree {
				if off := u.treeRunOf(uOff.name, t.round); t.sys == sys && off != nil && t.inodesPinned >= 0 && off.inodesPinned >= 0 {
					v = append(v, float64(t.inodesPinned-off.inodesPinned))
				}
			}
			return med(v)
		}
		treeLat := func(sys string, pc float64) float64 {
			var v []float64
			for _, t := range u.tree {
				if t.sys == sys && t.lat != nil && len(t.lat.samples) > 0 {
					v = append(v, percentile(t.lat.samples, pc))
				}
			}
			return med(v)
		}
		n := kfmtF(float64(u.treeDirs))
		if has(u.treeSystems, uFanotify.name) {
			held := fmt.Sprintf("no inode is held (%+.0f vs off)", pinned(uFanotify.name))
			if math.Abs(pinned(uFanotify.name)) > 0.02*float64(u.treeDirs) {
				held = fmt.Sprintf("%.0f more inodes are held than with off", pinned(uFanotify.name))
			}
			add("*fanotify costs nothing per directory.* On the tree of %s directories it starts in %s s (off: %s s) with one filesystem mark and no watch, the daemon's RSS is %s MiB (off: %s MiB), %s, and a change in the tree arrives in %s (p50).",
				n, num(st(uFanotify.name)), num(st(uOff.name)), num(rss(uFanotify.name)), num(rss(uOff.name)), held, ms(treeLat(uFanotify.name, 50)))
		}
		if has(u.treeSystems, uInotify.name) {
			perDir := (rss(uInotify.name) - rss(uOff.name)) * (1 << 20) / float64(u.treeDirs)
			kmem := ""
			if u.inodeSize > 0 {
				kmem = fmt.Sprintf(" ≈ %s MiB of kernel memory", num(pinned(uInotify.name)*float64(u.inodeSize)/(1<<20)))
			}
			add("*inotify pays per directory.* Start-up %s s (a watch added, and the directory listed, per directory), RSS %s MiB (%s bytes per directory more than off, the daemon's map of watches), and in the kernel one watch per directory, each pinning its directory's inode: %.0f inodes held that the kernel could otherwise drop%s. Changes in the tree still arrive in %s (p50). The system's `fs.inotify.max_user_watches` must cover the tree (beyond it, or beyond `--max-watches`, a directory is reported with a rescan event and polled).",
				num(st(uInotify.name)), num(rss(uInotify.name)), num(perDir), pinned(uInotify.name), kmem, ms(treeLat(uInotify.name, 50)))
		}
		if has(u.treeSystems, uPoll.name) {
			rssReady := u.treeMed(uPoll.name, func(t *treeRun) float64 { return float64(t.rssReady) / (1 << 20) })
			l := fmt.Sprintf("*poll scans the whole tree.* Start-up %s s (the first scan); RSS %s MiB after it and %s MiB once it has scanned again (each scan builds a new map of the tree beside the last one, and Go's collector lets the heap grow to about twice what is live); every interval it scans again: %s%% of a core with the default 2 s interval, and a change in the tree is seen after %s (p50; max %s)",
				num(st(uPoll.name)), num(rssReady), num(rss(uPoll.name)), num(cpu(uPoll.name)), ms(treeLat(uPoll.name, 50)), ms(treeLat(uPoll.name, 100)))
			if has(u.treeSystems, uPoll100.name) {
				if cpu(uPoll100.name) > 50 {
					l += fmt.Sprintf(". At 100 ms a scan of this tree takes longer than the interval, so the daemon scans without pause (%s%% of a core; RSS %s MiB: a scan in progress besides the last one, and garbage between collections) and a change is still seen only after %s (p50): a short interval buys little on a big tree", num(cpu(uPoll100.name)), num(rss(uPoll100.name)), ms(treeLat(uPoll100.name, 50)))
				} else {
					l += fmt.Sprintf(". At 100 ms it costs %s%% of a core (RSS %s MiB) and a change is seen after %s (p50)", num(cpu(uPoll100.name)), num(rss(uPoll100.name)), ms(treeLat(uPoll100.name, 50)))
				}
			}
			add("%s. Poll is for filesystems where the local kernel hears nothing (NFS, SMB, FUSE); where fanotify works, `auto` picks it.", l)
		}
	}
	if u.stat != nil && len(u.stat.vals) > 0 {
		rat := func(m *metric, sys string) float64 { return summarize(m.ratios(sys, uNative)).med }
		cpuLater := func(sys string) string { return cpuMs(summarize(u.stat2.cpu[sys]).med) }
		fa, in, off := "notifyfs "+uFanotify.name, "notifyfs "+uInotify.name, "notifyfs "+uOff.name
		l := fmt.Sprintf("*Warm stat.* Second pass right after the warm-up: loopback %s, notifyfs off %s, inotify %s, fanotify %s native. ",
			x(rat(u.stat, uLoopback)), x(rat(u.stat, off)), x(rat(u.stat, in)), x(rat(u.stat, fa)))
		if summarize(u.stat.ratios(off, uNative)).max > 2 || summarize(u.stat.ratios(uLoopback, uNative)).max > 2 {
			l += fmt.Sprintf("With 1 s lifetimes this depends on whether the warm-up walk (%s `LOOKUP`s through FUSE, about a second here) outlasted them, as it did in some rounds (see the ranges). ", kfmt(u.sizes.statN))
		} else {
			l += fmt.Sprintf("With 1 s lifetimes that holds only while the warm-up walk (%s `LOOKUP`s through FUSE) fits in them, as it did here. ", kfmt(u.sizes.statN))
		}
		l += fmt.Sprintf("%v later the 1 s lifetimes have lapsed and every `lstat` is a round trip to the daemon again — loopback %s, notifyfs off %s native (daemon CPU %s ms for the pass) — while with the 1 min lifetimes of a kernel backend the kernel still answers alone: inotify %s, fanotify %s native, daemon CPU %s and %s ms. ",
			u.sizes.statPause, x(rat(u.stat2, uLoopback)), x(rat(u.stat2, off)), cpuLater(off), x(rat(u.stat2, in)), x(rat(u.stat2, fa)), cpuLater(in), cpuLater(fa))
		if cpuLater(in) == "0" && cpuLater(fa) == "0" {
			l += "The two are the same mount for this purpose (same lifetimes, no request reaches either daemon), so the difference between them is this machine's noise. "
		}
		l += "What is left over native is the kernel's own FUSE code, not the daemon: a perf profile of an `lstat` loop over a warm notifyfs mount shows the extra time in `fuse_dentry_revalidate` (each path component below the mount point checks its entry's lifetime), `fuse_permission` (`default_permissions`) and `fuse_update_get_attr` — a few tenths of a µs per call in all, which longer lifetimes cannot lower further. "
		var within, beyond []string
		for _, sys := range []string{in, fa} {
			for _, m := range []*metric{u.stat, u.stat2} {
				v := rat(m, sys)
				if math.IsNaN(v) {
					continue
				}
				label := fmt.Sprintf("%s %s", strings.TrimPrefix(sys, "notifyfs "), map[bool]string{true: "at once", false: "later"}[m == u.stat])
				if v <= goalStatNative {
					within = append(within, label)
				} else {
					beyond = append(beyond, label)
				}
			}
		}
		switch {
		case len(beyond) == 0 && len(within) > 0:
			l += fmt.Sprintf("The target, ≤ %s× native, is met by every pass with a kernel backend.", num(goalStatNative))
		case len(within) == 0 && len(beyond) > 0:
			l += fmt.Sprintf("The target, ≤ %s× native, is not met by any pass with a kernel backend: that overhead alone is at or above it on this machine.", num(goalStatNative))
		case len(beyond) > 0:
			l += fmt.Sprintf("The target, ≤ %s× native, is met by %s and not by %s: with this machine's noise that overhead is at its edge.", num(goalStatNative), strings.Join(within, ", "), strings.Join(beyond, ", "))
		}
		add("%s", l)
	}
	if len(u.tput) > 0 && len(u.tputSystems) > 1 {
		var parts []string
		off := u.tputSystems[0]
		for _, s := range u.tputSystems[1:] {
			parts = append(parts, fmt.Sprintf("%s create %s, rename %s, unlink %s (daemon CPU per create %s µs, off %s µs)", strings.TrimPrefix(s, "notifyfs "),
				pct(summarize(u.tput[0].ratios(s, off)).med), pct(summarize(u.tput[1].ratios(s, off)).med), pct(summarize(u.tput[2].ratios(s, off)).med),
				num(summarize(u.tput[0].cpu[s]).med), num(summarize(u.tput[0].cpu[off]).med)))
		}
		echo := 0
		for _, s := range u.tputSystems {
			echo += u.tputBacking[s]
		}
		l := fmt.Sprintf("*The watcher's cost through the mount*, relative to `off`: %s. Each operation through the mount is announced to the ledger before it is made, and the kernel reports it back to the watcher, which reads the note and drops it as an echo (fanotify by the daemon's pid; inotify, and writes under passthrough, by the ledger), on the same 2 cores as the workload. Before the 1 ms gathering pause (see the latency above) a perf profile of the daemon under this create workload with fanotify put about 15%% of its CPU in the watcher's loop, half of it in going to sleep and being woken once per operation (`ppoll`); with the pause one wake-up takes the notes of several operations, which brought fanotify's extra daemon CPU per create from about 55 µs to about 35 µs. The kernel's own fanotify work (`fsnotify`, `fanotify_handle_event`) is a few per cent more. ", strings.Join(parts, "; "))
		if echo == 0 {
			l += "No echo got through: the subscriber received the same number of events per file with every backend and none with origin `backing`."
		} else {
			l += fmt.Sprintf("**%d echoes got through** as events with origin `backing`.", echo)
		}
		add("%s", l)
	}
	for _, l := range lines {
		p("- %s\n", l)
	}
	if len(lines) > 0 {
		p("\n")
	}
}

// undLatencyCDF draws the latency distribution per backend.
func undLatencyCDF(file string, u *undResults) error {
	var series []cdfSeries
	for _, sys := range u.latSystems {
		var all []float64
		for _, r := range u.lat {
			if r.sys == sys {
				for _, v := range r.samples {
					all = append(all, math.Max(v/1e3, 0.01))
				}
			}
		}
		series = append(series, cdfSeries{name: sys, samples: all})
	}
	return cdfPlot(file, cdfSpec{
		title:   "Change made on SOURCE (underneath the mount) → subscriber receives the event",
		xLabel:  "latency, ms (log scale; ≤ 0.01 ms and negative drawn at 0.01)",
		cols:    []color.Color{palette[4], palette[1], palette[3], palette[2]},
		legend:  func(p99 float64) string { return fmt.Sprintf("p99 %s ms", num(p99)) },
		target:  20,
		fitLeft: true, targetLabel: "target for fanotify/inotify: p99 ≤ 20 ms",
	}, series)
}
