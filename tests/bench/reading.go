package main

import (
	"fmt"
	"math"
	"strings"
)

// medRatio is the median per-round ratio of sys to base for a workload.
func (r *report) medRatio(key, sys, base string) float64 {
	m := r.metric(key)
	if m == nil {
		return math.NaN()
	}
	return summarize(m.ratios(sys, base)).med
}

func (r *report) med(key, sys string) float64 {
	m := r.metric(key)
	if m == nil {
		return math.NaN()
	}
	return summarize(m.vals[sys]).med
}

func pct(ratio float64) string {
	if math.IsNaN(ratio) {
		return "–"
	}
	return fmt.Sprintf("%+.0f%%", (ratio-1)*100)
}

func x(ratio float64) string {
	if math.IsNaN(ratio) {
		return "–"
	}
	return num(ratio) + "×"
}

// mdReading writes the short reading: where notifyfs is ahead, where it
// is behind, and why. Every number in it comes from this run.
func (r *report) mdReading(p printer) {
	if len(r.fs) == 0 && len(r.bursts) != 2 && len(r.rss) == 0 {
		return // a run of other sections only: nothing to read here
	}
	p("## Reading\n\n")
	if len(r.fs) > 0 {
		p("**Where notifyfs is ahead.**\n\n")
		sr, sw, rr := r.medRatio("seqread", sNotify1, sNative), r.medRatio("seqwrite", sNotify1, sNative), r.med("randread", sNotify1)
		p("- *Large files.* With kernel passthrough the kernel reads and writes SOURCE itself and the daemon never sees the data: sequential read %s and write %s of native, random 4 KiB reads %s µs (native %s µs).",
			x(sr), x(sw), num(rr), num(r.med("randread", sNative)))
		if r.env.bindfs != "" {
			p(" bindfs, which has no passthrough (libfuse 2), sends every read and write to its daemon: %s MiB/s written, %s MiB/s read, %s µs per random read — notifyfs is %s and %s faster there.",
				num(r.med("seqwrite", sBindfs)), num(r.med("seqread", sBindfs)), num(r.med("randread", sBindfs)),
				x(r.med("seqwrite", sNotify1)/r.med("seqwrite", sBindfs)), x(r.med("randread", sBindfs)/rr))
		}
		p("\n")
	}
	if len(r.bursts) == 2 {
		in, nf := r.bursts[0], r.bursts[1]
		p("- *Nothing lost when the reader falls behind.* In a burst of %d changes that nobody read, inotify kept its %s queued events and dropped %d behind one `IN_Q_OVERFLOW`; the notifyfs subscriber received %d of %d once it read again (the bus keeps a ring of 262144 events, and beyond that says exactly which seqs were lost). And notifyfs gives these events for any SOURCE — NFS, SMB, FUSE, bind mounts — where inotify has nothing to report.\n",
			in.made, r.env.machine.MaxQueuedEvents, in.lost, nf.received, nf.made)
	}
	if len(r.rss) > 0 {
		n := r.cfg.rssTrees[0]
		per := func(sys string) float64 {
			var v []float64
			for _, x := range r.rss {
				if x.sys == sys && x.entries == n {
					v = append(v, float64(x.rss-x.base)/float64(n))
				}
			}
			return summarize(v).med
		}
		p("- *Memory.* After a walk of %s entries the notifyfs daemon has grown by %s bytes per entry, the plain go-fuse loopback by %s (notifyfs keeps no descriptor per node, only go-fuse's inode)", kfmt(n), num(per(sNotify0)), num(per(sLoopback)))
		if r.env.bindfs != "" {
			p("; bindfs by %s (libfuse 2 keeps a small node per entry and a path per lookup)", num(per(sBindfs)))
		}
		p(".\n")
	}
	p("\n")
	if len(r.fs) == 0 {
		return
	}
	p("**Where notifyfs is behind, and why.**\n\n")
	nat, lb := r.med("create2", sNative), r.med("create2", sLoopback)
	trip := (lb - nat) / 5
	p("- *Small-file metadata operations* cost what any FUSE file system costs: creating a file with 4 KiB in it is %s native with notifyfs (1 subscriber) and %s with the plain go-fuse loopback; rename %s and %s, unlink %s and %s. ",
		x(r.medRatio("create2", sNotify1, sNative)), x(r.medRatio("create2", sLoopback, sNative)),
		x(r.medRatio("rename", sNotify1, sNative)), x(r.medRatio("rename", sLoopback, sNative)),
		x(r.medRatio("unlink", sNotify1, sNative)), x(r.medRatio("unlink", sLoopback, sNative)))
	p("Natively a create is one system call; through FUSE (go-fuse debug log) it is five synchronous requests to the daemon — `GETATTR` of the parent directory (with `default_permissions` the kernel checks the parent's mode, and it invalidated the parent's attributes after the previous create), `LOOKUP` of the new name, `CREATE`, `GETXATTR security.capability` before the first write, `FLUSH` at close — plus `RELEASE` afterwards. At ~%s µs per round trip on this machine (perf on the daemon: most of its kernel time is in scheduling — `finish_task_switch`, wake-ups — so context switches, which are dear in this 2-core VM, set the price) that is the whole gap to native. ", num(trip))
	if r.env.bindfs != "" {
		p("bindfs makes a similar number of trips (%s native on create) but each costs less in its single-threaded C loop. ", x(r.medRatio("create2", sBindfs, sNative)))
	}
	p("\n")
	p("- *notifyfs over the plain loopback:* with no subscriber create costs %s, rename %s, unlink %s more than the loopback (establishing who asks for every request, pinning the node's own object and checking it is still the node's, the extra `stat`s that make the event and keep per-path order, publishing); with one subscriber %s / %s / %s (the event is also encoded and written to the socket, and the subscriber's thread is woken for it — more context switches on a 2-core machine that the workload shares); with ten subscribers %s / %s / %s. ",
		pct(r.medRatio("create2", sNotify0, sLoopback)), pct(r.medRatio("rename", sNotify0, sLoopback)), pct(r.medRatio("unlink", sNotify0, sLoopback)),
		pct(r.medRatio("create2", sNotify1, sLoopback)), pct(r.medRatio("rename", sNotify1, sLoopback)), pct(r.medRatio("unlink", sNotify1, sLoopback)),
		pct(r.medRatio("create2", sNotify10, sLoopback)), pct(r.medRatio("rename", sNotify10, sLoopback)), pct(r.medRatio("unlink", sNotify10, sLoopback)))
	c1, c2, rn, ul := r.medRatio("create1", sNotify1, sLoopback), r.medRatio("create2", sNotify1, sLoopback), r.medRatio("rename", sNotify1, sLoopback), r.medRatio("unlink", sNotify1, sLoopback)
	var missed []string
	if !(c1 <= goalCreateLoopback && c2 <= goalCreateLoopback) {
		missed = append(missed, fmt.Sprintf("create+write+close %s and %s", x(c1), x(c2)))
	}
	if !(rn <= goalRenameLoopback) {
		missed = append(missed, "rename "+x(rn))
	}
	if !(ul <= goalRenameLoopback) {
		missed = append(missed, "unlink "+x(ul))
	}
	p("The §6 targets with a subscriber attached — create+write+close ≤ %s× the plain loopback, rename and unlink ≤ %s× — ", goalNum(goalCreateLoopback), goalNum(goalRenameLoopback))
	if len(missed) == 0 {
		p("are met in this run (create %s and %s, rename %s, unlink %s of the loopback). ", x(c1), x(c2), x(rn), x(ul))
	} else {
		p("are not all met in this run (%s of the loopback)%s", strings.Join(missed, ", "), map[bool]string{true: "; the profile below names the costs, what was done and what is left. ", false: ". "}[r.profile != nil])
	}
	p("In the real workload (tar -x, git status, rm -rf and git clone of the Go tree) the same overheads show: extraction %s native with notifyfs (1 subscriber), %s with the loopback; git clone %s and %s.\n",
		x(r.medRatio("tarx", sNotify1, sNative)), x(r.medRatio("tarx", sLoopback, sNative)), x(r.medRatio("gitclone", sNotify1, sNative)), x(r.medRatio("gitclone", sLoopback, sNative)))
	p("- *readdir* of a large directory is %s native with notifyfs and %s with the loopback, but %s with bindfs: go-fuse answers the kernel's `READDIRPLUS`, which looks up every entry (a `stat` and a new inode each), while bindfs (libfuse 2) serves a plain `READDIR` of names. A listing that only wants names pays for attributes it does not use; turning `READDIRPLUS` off (go-fuse's `DisableReadDirPlus`) would make every `ls -l` pay a `LOOKUP` round trip per entry instead, so it stays on, for notifyfs and the loopback alike.\n",
		x(r.medRatio("readdir1", sNotify0, sNative)), x(r.medRatio("readdir1", sLoopback, sNative)), x(r.medRatio("readdir1", sBindfs, sNative)))
	if m := r.metric("lsl1"); m != nil && len(m.vals[sNotify1]) > 0 {
		l1, l2 := r.medRatio("lsl1", sNotify1, sNative), r.medRatio("lsl2", sNotify1, sNative)
		p("- *ls -l* of a %s-entry directory takes %s native with notifyfs (1 subscriber) the first time after mounting and %s the second time (loopback %s and %s", kfmt(r.cfg.lsDir), x(l1), x(l2), x(r.medRatio("lsl1", sLoopback, sNative)), x(r.medRatio("lsl2", sLoopback, sNative)))
		if r.env.bindfs != "" {
			p(", bindfs %s and %s", x(r.medRatio("lsl1", sBindfs, sNative)), x(r.medRatio("lsl2", sBindfs, sNative)))
		}
		p("): ls `lstat`s every entry and asks for two extended attributes of each (`security.selinux`, `system.posix_acl_access`); FUSE caches no extended attribute (the kernel keeps an ACL once read, with `FUSE_POSIX_ACL`, but forgets it whenever it refreshes the attributes), so each is a `GETXATTR` round trip to the daemon where natively it is read from the inode. ")
		switch {
		case l1 <= goalLsNative && l2 <= goalLsNative:
			p("Both are within the §6 goal of ≤ %s× native.\n", goalNum(goalLsNative))
		case l2 <= goalLsNative:
			p("The second is within the §6 goal of ≤ %s× native, the first is not.\n", goalNum(goalLsNative))
		case l1 <= goalLsNative:
			p("The first is within the §6 goal of ≤ %s× native, the second is not.\n", goalNum(goalLsNative))
		default:
			p("Neither is within the §6 goal of ≤ %s× native.\n", goalNum(goalLsNative))
		}
	}
	st := r.medRatio("stat", sNotify0, sNative)
	if st <= 1.5 {
		p("- *stat of a warm tree* is %s native (notifyfs, no subscriber; %s with one): the walk stays inside the 1 s entry and attribute timeouts, so the kernel answers from its own caches and the daemon is not asked. A walk that takes longer than the timeouts, or a second walk later, pays one `LOOKUP`/`GETATTR` round trip per entry again; the design's long TTLs, kept correct by invalidating on changes underneath, remove that when a kernel backend watches SOURCE: this section runs with `--underneath off`; see [Stat of a warm tree with long cache lifetimes](#stat-of-a-warm-tree-with-long-cache-lifetimes).\n",
			x(st), x(r.medRatio("stat", sNotify1, sNative)))
	} else {
		p("- *stat of a warm tree* is %s native (notifyfs, no subscriber; %s with one; the plain loopback %s): a walk of %s files through FUSE outlasts the 1 s entry and attribute timeouts both mount with, so by the timed second pass most entries have expired and every `lstat` is a `LOOKUP`/`GETATTR` round trip again. Within the timeouts the kernel answers from its caches and a stat costs a few µs (`BenchmarkStat` below: 1000 files). The fix is the design's long TTLs, kept correct by invalidating the kernel's caches on changes made underneath the mount, which notifyfs uses when a kernel backend watches SOURCE: this section runs with `--underneath off`, which keeps the timeouts short; see [Stat of a warm tree with long cache lifetimes](#stat-of-a-warm-tree-with-long-cache-lifetimes).\n",
			x(st), x(r.medRatio("stat", sNotify1, sNative)), x(r.medRatio("stat", sLoopback, sNative)), kfmt(r.metric("stat").ops))
	}
	if len(r.lat) > 0 {
		var p50, p99, ip99 []float64
		for _, l := range r.lat {
			switch l.sys {
			case lNotify1:
				p50 = append(p50, percentile(l.samples, 50))
				p99 = append(p99, percentile(l.samples, 99))
			case lInotify:
				ip99 = append(ip99, percentile(l.samples, 99))
			}
		}
		p("- *Event latency:* the median event reaches a notifyfs subscriber %s µs after the call returned and the 99th percentile %s µs (inotifywait: %s µs). The median is a socket hop and a JSON decode; the tail is scheduling: with two cores the writer, the daemon's FUSE threads, its socket writer and the subscriber's reader and decoder take turns, and an event waits whenever its thread is not running — in the daemon, for a Go processor while go-fuse's readers hold both in a blocking `read(2)` (see [Context switches](#context-switches-what-a-small-file-operation-pays-for-its-events)).\n",
			num(summarize(p50).med), num(summarize(p99).med), num(summarize(ip99).med))
	}
	if len(r.rateSteps) > 0 {
		best, _ := r.sustained(rateClient)
		raw, _ := r.sustained(rateRaw)
		if best < raw || best == 0 {
			p("- *Event rate:* the server side (bus, JSON encoding, socket) sustains %s events/s to a reader that only splits lines, but the Go client sustains %s: it decodes every line into an `eventbus.Event` (`UnmarshalJSON`) and hands it over a channel, one event at a time, and that is where a subscriber's CPU goes. ",
				kfmtF(raw), sustainedText(best))
		} else {
			p("- *Event rate:* the Go client, which decodes every line into an `eventbus.Event` and hands it over a channel, keeps up with the server side (bus, JSON encoding, socket): both sustain %s events/s, the highest offered rate held in every round by either. ", kfmtF(raw))
		}
		if b := r.backlog; b != nil {
			w, _, _ := b.rates(blWatch)
			c, _, _ := b.rates(blClient)
			if len(w) > 0 && len(c) > 0 {
				p("A backlog of %s events replayed from its start reaches the Go client at %s events/s and comes out of `notifyfs watch --format json` at %s events/s (median). ", kfmt(b.n), kfmtF(summarize(c).med), kfmtF(summarize(w).med))
			}
		}
		p("Through the file system the rate is set by FUSE: two writers make only a few thousand directories per second through any FUSE mount here.\n")
	}
	p("\n")
}

func sustainedText(best float64) string {
	if best == 0 {
		return "under 100k/s (the lowest rate tried was not held in every round)"
	}
	return kfmtF(best) + "/s, held in every round"
}

// mdProfileSummary summarizes the profile and names the fixes.
func (r *report) mdProfileSummary(p printer) {
	bd := r.profile.bd
	if bd == nil {
		return
	}
	p("%.2f s of CPU samples; %.0f%% of them inside system calls.\n\n", bd.total, bd.syscallPct)
	p("| by FUSE operation / activity | %% CPU | | by system call | %% CPU | | notifyfs function (inclusive) | %% CPU |\n|---|---|---|---|---|---|---|---|\n")
	n := max(len(bd.byOp), len(bd.bySyscall), len(bd.byFunc))
	get := func(s []share, i int) (string, string) {
		if i < len(s) {
			return "`" + s[i].name + "`", num(s[i].pct)
		}
		return "", ""
	}
	for i := 0; i < n; i++ {
		a, ap := get(bd.byOp, i)
		b, bp := get(bd.bySyscall, i)
		c, cp := get(bd.byFunc, i)
		p("| %s | %s | | %s | %s | | %s | %s |\n", a, ap, b, bp, c, cp)
	}
	p("\n")
	find := func(s []share, name string) float64 {
		for _, x := range s {
			if x.name == name {
				return x.pct
			}
		}
		return 0
	}
	fuseIO := find(bd.byOp, "reading /dev/fuse") + find(bd.byOp, "go-fuse request loop")
	who := bd.funcPct["fusefs.(*FS).begin"]
	capget := bd.callPct["unix.Capget"]
	pin := bd.funcPct["fusefs.(*op).pinOf"]
	stats := bd.funcPct["fusefs.statAt"]
	subs := find(bd.byOp, "subscriber connections (encode, write)")
	bus := bd.funcPct["eventbus.(*Bus).Publish"] // called inside each operation
	gc := find(bd.byOp, "Go garbage collector")
	xattr := find(bd.byOp, "FUSE GetXAttr")
	p("**What it says.** The daemon's CPU goes first to the FUSE round trips themselves — reading requests from /dev/fuse and writing replies (`writev`), %.0f%% together with go-fuse's request loop — and then to the system calls on SOURCE. What notifyfs adds to a plain loopback shows up as: establishing who asks, `FS.begin` %.1f%% (for a root caller a `capget` of its thread, %.1f%%, tells whether it holds the daemon's powers; anyone else's groups and capabilities are read from `/proc/TID/status` — for every request, since a process may drop them at any moment), pinning a file's own object, `op.pinOf` %.1f%% (an `O_PATH` open by name in the directory's pinned descriptor and a `statx` that checks it is still the node's object; directories keep theirs), `statAt` %.1f%% in all (with the `stat`s that fill the event and check what a rename replaces), the subscriber connection %.1f%%, publishing on the bus %.1f%% and the garbage collector %.1f%%. `GETXATTR` requests (`security.capability`, asked by the kernel before the first write through each open file) take %.1f%%.\n\n",
		fuseIO, who, capget, pin, stats, subs, bus, gc, xattr)
	p("**What was done, and what is left.** Done since this profile was first taken: operations act as the caller (per-thread fsuid, fsgid, groups and capabilities), so SOURCE itself decides every permission; `HANDLE_KILLPRIV_V2` is negotiated (no `SETATTR` to clear set-id bits, which the daemon clears acting as the caller); directory nodes keep an `O_PATH` descriptor (`dirpin.go`), so a root caller's operation is its one `*at()` call, not an `openat2` from SOURCE's root per request; the Go runtime's memory limit follows what is live outside the ring (`internal/memlimit`), which stopped the collector from running back to back in a daemon whose ring was full; the offline index no longer wakes for every event and the journal's syncer sleeps while nothing is written (each had cost a thread switch, see [Context switches](#context-switches-what-a-small-file-operation-pays-for-its-events)). Left, each measured and kept for a reason:\n\n")
	p("1. *The parent's `GETATTR` before create, rename and unlink* (1 of the 5 synchronous requests of create+write+close, 1 of 3 of a rename, 1 of 2 of an unlink) comes from `default_permissions`, which the kernel needs to check the modes of FIFOs and sockets on the mount: it opens and connects to them itself, without asking the daemon. Without it (`--default-permissions=false`, see the request counts) notifyfs pays fewer trips than the loopback; as root it stays on by default.\n")
	p("2. *The identity of every request*: a cached answer would let a process that just dropped its rights act with the old ones. Nor can a `GETATTR` or `LOOKUP` be answered with the daemon's rights on the grounds that the kernel's `default_permissions` check has passed: that check sees only the mode bits, so a deny entry of an ACL on SOURCE, or an NFS server squashing root, would no longer apply.\n")
	p("3. *The subscriber's share*: up to one thread switch per event (the connection's writer goroutine woken on the other core). Writing the event on the request's own thread instead was measured and is slower (see [Context switches](#context-switches-what-a-small-file-operation-pays-for-its-events)).\n")
	p("4. *Pinning a file before acting on it*: acting by name would act on whatever holds the name by then; `getxattrat(2)` (Linux 6.13) would spare the magic-link walk of `GETXATTR`, but it refuses `O_PATH` descriptors (`EBADF`, measured on 6.18).\n\n")
}

var _ = strings.TrimSpace
