package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/notifyfs/notifyfs/fusefs"
)

// report gathers every result and writes docs/performance.md.
type report struct {
	cfg     *config
	env     *env
	started time.Time
	elapsed time.Duration
	notes   []string
	// failures are sections that failed; the report says so and shows
	// what they measured before failing.
	failures []string

	fsSystems   []sysSpec
	fs          []*metric
	passthrough map[string]string
	tarFiles    int

	latSystems []string
	lat        []*latRun
	latOps     int
	latPace    time.Duration

	rateDur   time.Duration
	rateSteps map[string][][]rateStep // by reader kind, then offered rate
	busPid    int
	fsRates   []*fsRate
	bursts    []*burstResult

	rssSystems []sysSpec
	rss        []*rssResult
	budget     []*budgetResult

	und *undResults // changes underneath the mount (underneath.go)

	reqs *reqResults // FUSE requests per operation (reqs.go)

	backlog    *backlogResult // a backlog replayed from the start (backlog.go)
	backlogErr string

	profile    *profileResult
	profileErr string
	gobench    []*goBench
}

func (r *report) imgDir() string { return filepath.Join(r.cfg.out, "img") }

func (r *report) metric(key string) *metric {
	for _, m := range r.fs {
		if m.key == key {
			return m
		}
	}
	return nil
}

var shortTitles = map[string]string{
	"create1": "create N1", "create2": "create N2", "stat": "stat (warm)",
	"readdir1": "readdir", "readdir2": "readdir again", "rename": "rename", "unlink": "unlink",
	"seqwrite": "seq write", "seqread": "seq read", "randread": "4 KiB random read",
	"tarx": "tar -x", "git1": "git status", "git2": "git status again", "rmrf": "rm -rf",
	"gitclone": "git clone", "lsl1": "ls -l", "lsl2": "ls -l again",
}

func (m *metric) shortTitle() string {
	if s, ok := shortTitles[m.key]; ok {
		if m.key == "create1" || m.key == "create2" {
			return "create " + kfmt(m.ops)
		}
		return s
	}
	return m.key
}

// num formats a figure with a sensible number of digits.
func num(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "–"
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func cell(s summary) string {
	if s.n == 0 {
		return "–"
	}
	if s.n == 1 {
		return num(s.med)
	}
	return fmt.Sprintf("%s (%s–%s)", num(s.med), num(s.min), num(s.max))
}

func ratioCell(s summary) string {
	if s.n == 0 {
		return "–"
	}
	if s.n == 1 {
		return num(s.med) + "×"
	}
	return fmt.Sprintf("%s× (%s–%s)", num(s.med), num(s.min), num(s.max))
}

// target is one §6 target with its measured value.
type target struct {
	what, goal, measured string
	met                  string // "met", "**not met**", "not measured"
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// The goals of design.md §6 (issue 14), all with one subscriber attached
// and the journal on, measured side by side in one run.
const (
	goalCreateLoopback  = 0.9   // create+write+close, × plain loopback
	goalRenameLoopback  = 1.0   // rename and unlink, × plain loopback
	goalStatNative      = 1.1   // stat of a warm tree, × native
	goalSeqNative       = 0.9   // sequential read and write, × native throughput
	goalLatencyP99      = 1000  // µs, operation return → subscriber
	goalEventRate       = 200e3 // events/s, sustained and backlog replay
	goalLsNative        = 3.0   // ls -l of a 100k-entry directory, × native
	goalClusterP99      = 5000  // µs, operation on host A → subscriber on host B
	goalClusterRate     = 50e3  // events/s replicated, none lost
	notMeasured         = "not measured"
	goalLatencyP99Text  = "p99 ≤ 1 ms"
	goalEventRateText   = "≥ 200k events/s"
	goalClusterP99Text  = "p99 ≤ 5 ms"
	goalClusterRateText = "≥ 50k events/s"
)

// goalNum writes a goal's factor as the design states it: 0.9, 1.0, 3.
func goalNum(v float64) string {
	if v > 1 && v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// ratioTarget is a target on the median per-round ratio of sys to base;
// higher: the goal is a floor (throughput), else a ceiling (time).
func ratioTarget(what string, m *metric, sys, base string, goal float64, higher bool, baseName string) target {
	t := target{what: what, goal: fmt.Sprintf("≤ %s× %s", goalNum(goal), baseName)}
	if higher {
		t.goal = fmt.Sprintf("≥ %s× %s throughput", goalNum(goal), baseName)
	}
	if m == nil {
		t.measured, t.met = "–", notMeasured
		return t
	}
	s := summarize(m.ratios(sys, base))
	if s.n == 0 {
		t.measured, t.met = "–", notMeasured
		return t
	}
	t.measured = ratioCell(s) + " " + baseName
	if higher {
		t.met = verdict(s.med >= goal)
	} else {
		t.met = verdict(s.med <= goal)
	}
	return t
}

func (r *report) targets() []target {
	var ts []target
	if len(r.fs) > 0 {
		for _, k := range []string{"create1", "create2"} {
			m := r.metric(k)
			ts = append(ts, ratioTarget(m.title+", notifyfs with 1 subscriber", m, sNotify1, sLoopback, goalCreateLoopback, false, "plain loopback"))
		}
		for _, k := range []string{"rename", "unlink"} {
			m := r.metric(k)
			ts = append(ts, ratioTarget(m.title+", notifyfs with 1 subscriber", m, sNotify1, sLoopback, goalRenameLoopback, false, "plain loopback"))
		}
		m := r.metric("stat")
		for _, sys := range []string{sNotify1, sNotify0} {
			ts = append(ts, ratioTarget(m.title+", "+sys+" (cache lifetimes 1 s, `--underneath off`)", m, sys, sNative, goalStatNative, false, "native"))
		}
		for _, k := range []string{"seqwrite", "seqread"} {
			m := r.metric(k)
			ts = append(ts, ratioTarget(m.title+", notifyfs with 1 subscriber", m, sNotify1, sNative, goalSeqNative, true, "native"))
		}
		for _, k := range []string{"lsl1", "lsl2"} {
			if m := r.metric(k); m != nil {
				ts = append(ts, ratioTarget(m.title+", notifyfs with 1 subscriber", m, sNotify1, sNative, goalLsNative, false, "native"))
			}
		}
	}
	if len(r.lat) > 0 {
		var p99 []float64
		for _, l := range r.lat {
			if l.sys == lNotify1 {
				p99 = append(p99, percentile(l.samples, 99))
			}
		}
		s := summarize(p99)
		t := target{what: "event latency, operation return → subscriber (1 subscriber)", goal: goalLatencyP99Text, measured: "–", met: notMeasured}
		if s.n > 0 {
			t.measured, t.met = "p99 "+cell(s)+" µs", verdict(s.med <= goalLatencyP99)
		}
		ts = append(ts, t)
	}
	if len(r.rateSteps) > 0 {
		best, ok := r.sustained(rateClient)
		raw, _ := r.sustained(rateRaw)
		ts = append(ts, target{what: "sustained events to one subscriber, none lost (bus → socket → Go client)", goal: goalEventRateText,
			measured: fmt.Sprintf("%s (a line-splitting reader: %s/s)", sustainedText(best), kfmtF(raw)), met: verdict(ok && best >= goalEventRate)})
	}
	if r.backlog != nil || r.backlogErr != "" {
		ts = append(ts, r.backlogTargets()...)
	}
	ts = append(ts, r.clusterTargets()...)
	ts = append(ts, r.undTargets()...)
	return ts
}

// sustained is the highest offered rate that every round delivered in
// full (nothing lost, delivered ≥ 95% of offered).
func (r *report) sustained(kind string) (float64, bool) {
	best := 0.0
	for _, st := range r.rateSteps[kind] {
		if len(st) == 0 {
			continue
		}
		allOK := true
		off := st[0].offered
		for _, s := range st {
			want := s.offered
			if want == 0 {
				want = s.published
			}
			if s.lost != 0 || s.delivered < 0.95*want {
				allOK = false
			}
		}
		if allOK {
			if off == 0 {
				var p []float64
				for _, s := range st {
					p = append(p, s.delivered)
				}
				off = summarize(p).min
			}
			best = math.Max(best, off)
		}
	}
	return best, best > 0
}

func kfmtF(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func (r *report) write(out string) error {
	img := r.imgDir()
	if err := os.MkdirAll(img, 0o755); err != nil {
		return err
	}
	var figs []string
	plotErr := func(name string, err error) {
		if err != nil {
			logf("plot %s: %v", name, err)
		} else {
			figs = append(figs, name)
		}
	}
	if len(r.fs) > 0 {
		small := []*metric{r.metric("create1"), r.metric("create2"), r.metric("rename"), r.metric("unlink"), r.metric("stat"), r.metric("readdir1")}
		plotErr("smallfile-vs-native.png", ratioBars(filepath.Join(img, "smallfile-vs-native.png"), "Small-file operations: cost relative to native SOURCE", sNative, small, r.fsSystems))
		plotErr("smallfile-vs-loopback.png", ratioBars(filepath.Join(img, "smallfile-vs-loopback.png"), "Small-file operations: cost relative to the plain go-fuse loopback", sLoopback, small, r.fsSystems))
		plotErr("create-growth.png", growthLines(filepath.Join(img, "create-growth.png"), []*metric{r.metric("create1"), r.metric("create2")}, []int{r.metric("create1").ops, r.metric("create2").ops}, r.fsSystems))
		plotErr("throughput.png", throughputBars(filepath.Join(img, "throughput.png"), []*metric{r.metric("seqwrite"), r.metric("seqread")}, r.fsSystems))
		plotErr("realworld-vs-native.png", ratioBars(filepath.Join(img, "realworld-vs-native.png"), "Real workload (Go source tree): time relative to native", sNative,
			[]*metric{r.metric("tarx"), r.metric("git1"), r.metric("git2"), r.metric("rmrf"), r.metric("gitclone"), r.metric("randread")}, r.fsSystems))
	}
	if len(r.lat) > 0 {
		plotErr("latency-cdf.png", latencyCDF(filepath.Join(img, "latency-cdf.png"), r.lat, r.latSystems))
	}
	if len(r.rateSteps) > 0 {
		plotErr("event-rate.png", rateLines(filepath.Join(img, "event-rate.png"), r.rateSteps))
	}
	if len(r.rss) > 0 {
		plotErr("rss.png", rssBars(filepath.Join(img, "rss.png"), r.rss, r.rssSystems, r.cfg.rssTrees))
	}
	r.plotUnderneath(img, plotErr)
	if r.onlySpliced() {
		if done, err := r.writeSplicedOnly(filepath.Join(out, "performance.md"), figs); done || err != nil {
			return err
		}
	}
	var b strings.Builder
	r.markdown(&b, figs)
	file := filepath.Join(out, "performance.md")
	b.WriteString(handWritten(file))
	return os.WriteFile(file, []byte(b.String()), 0o644)
}

// handMarker starts the part of performance.md written by hand (results
// of one-off experiments, such as the io_uring prototype): a regenerated
// report keeps it as it was.
const handMarker = "<!-- hand-written: kept when the report is regenerated -->"

// handWritten returns the hand-written part of the report at file, marker
// included ("" if there is none).
func handWritten(file string) string {
	old, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	i := strings.Index(string(old), handMarker)
	if i < 0 {
		return ""
	}
	return "\n" + string(old[i:])
}

func (r *report) markdown(b *strings.Builder, figs []string) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	has := func(f string) bool { return slices.Contains(figs, f) }
	mode := "full"
	if r.cfg.quick {
		mode = "--quick"
	}
	p("# Performance\n\n")
	p("notifyfs measured side by side with native access to SOURCE, a plain go-fuse loopback mount with the same mount options, bindfs, and inotify. ")
	p("Everything on this page was produced by one run of the benchmark command (%s mode, %d rounds, %v in all, %s) and is regenerated by running it again:\n\n", mode, r.cfg.runs, r.elapsed.Round(time.Second), r.env.machine.Date)
	p("```sh\ncd tests/bench && go run . [--quick] [--out ../../docs]   # as root; --quick takes under two minutes\n```\n\n")
	p("It builds the notifyfs binary and runs `notifyfs mount -f` as a separate process, runs the plain loopback (`fs.NewLoopbackRoot` with the options of `fusefs.FS.MountOptions()`) in a helper process, starts bindfs, connects the subscribers, and unmounts everything on the way out, also after a failure or a signal. ")
	p("Peers come from Debian: `apt-get install -y bindfs inotify-tools` (the command installs them itself when they are missing and it runs as root).\n\n")

	for _, f := range r.failures {
		p("> **This run had a failure:** %s\n\n", f)
	}
	r.mdTargets(p)
	r.mdReading(p)
	r.mdMachine(p)
	if len(r.fs) > 0 {
		r.mdFS(p, has)
	} else if r.reqs != nil {
		p("## File-system workloads\n\n")
		r.mdReqs(p)
		p("\n")
	}
	if len(r.lat) > 0 || len(r.rateSteps) > 0 || len(r.rss) > 0 || len(r.budget) > 0 {
		p("## Event delivery\n\n")
		r.mdLatency(p, has)
		r.mdRate(p, has)
		r.mdRSS(p, has)
		r.mdBudget(p)
	}
	if r.und != nil {
		r.mdUnderneath(p, has)
		p("\n")
	}
	r.mdCluster(p)
	r.mdGoBench(p)
	r.mdProfile(p)
	r.mdMethod(p)
	r.mdRaw(p)
}

type printer func(format string, args ...any)

func (r *report) mdTargets(p printer) {
	ts := r.targets()
	if len(ts) == 0 {
		return
	}
	p("## Targets (design.md §6)\n\n")
	p("Goals of design.md §6, with one subscriber attached and the journal on, measured side by side in this run.\n\n")
	p("| target | goal | measured (median, min–max over rounds) | |\n|---|---|---|---|\n")
	for _, t := range ts {
		p("| %s | %s | %s | %s |\n", t.what, t.goal, t.measured, t.met)
	}
	p("\n")
	if len(r.fs) > 0 || r.und != nil {
		p("Every ratio is taken inside one round (the systems take turns, in an order that rotates from round to round), then the median and range of those per-round ratios are shown.")
	}
	if r.profile != nil && slices.ContainsFunc(ts, func(t target) bool { return t.met != "met" && t.met != notMeasured }) {
		p(" For the targets not met, see [Where the time goes](#where-the-time-goes-cpu-profile) for the profile, what was done and what is left.")
	}
	p("\n\n")
	p("The journal's own figures (append and replay rates, and the million-event run with slow and killed subscribers) come from Go benchmarks and a long test rather than from this command: see [performance-journal.md](performance-journal.md).\n\n")
	p("Why event decoding in the client is hand-written (measured against `encoding/json`, json/v2 and goccy/go-json): see [performance-json.md](performance-json.md).\n\n")
}

func (r *report) mdMachine(p printer) {
	m := r.env.machine
	p("## Machine, versions and options\n\n")
	p("| | |\n|---|---|\n")
	p("| kernel | %s |\n| CPU | %s, %s cores |\n| memory | %s |\n| Go | %s |\n| go-fuse | %s |\n", m.Kernel, m.CPU, m.Cores, m.Memory, m.GoVersion, m.GoFuse)
	p("| SOURCE file system | %s |\n| bindfs | %s |\n| inotify-tools | %s |\n| git | %s |\n| fs.inotify.max_queued_events | %s |\n", m.SourceFS, orDefault(m.BindfsVersion, "not available"), orDefault(m.InotifyToolsVersion, "not available"), m.GitVersion, m.MaxQueuedEvents)
	p("\n")
	perms := "`allow_other` without `default_permissions` (notifyfs acts as the caller, so SOURCE checks permissions)"
	if fusefs.DefaultOptions(fusefs.IsRoot()).DefaultPermissions {
		perms = "`allow_other`, `default_permissions`"
	}
	p("Mount options, identical for notifyfs and the plain loopback (`fusefs.DefaultOptions(root)` → `FS.MountOptions()`): entry, attribute and negative timeouts 1 s; %s; locks enabled;", perms)
	p(" `CAP_ATOMIC_O_TRUNC`; symlink caching; `max_write` 1 MiB; mounted with mount(2) directly (go-fuse DirectMount); kernel passthrough offered for open files. ")
	p("notifyfs runs with its defaults otherwise (write interval 1 s, ring 262144 events, 8192-event subscriber queues, kernel bridge off). ")
	p("bindfs runs as `bindfs -f SOURCE MOUNTPOINT` (its defaults: libfuse 2, single-threaded, 1 s timeouts, no passthrough; as root it adds `allow_other,default_permissions`).\n\n")
	if len(r.passthrough) > 0 {
		var parts []string
		for _, s := range r.fsSystems {
			if v := r.passthrough[s.name]; v != "" {
				parts = append(parts, fmt.Sprintf("%s: %s", s.name, v))
			}
		}
		p("Kernel passthrough as negotiated: %s.\n\n", strings.Join(parts, ", "))
	}
	for _, n := range r.notes {
		p("- %s\n", n)
	}
	if len(r.notes) > 0 {
		p("\n")
	}
}
