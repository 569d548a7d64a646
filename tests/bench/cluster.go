package main

// The cluster rows: Go benchmarks of one share on two hosts through an
// in-process NATS JetStream node (tests/cluster_bench_test.go,
// cluster/bench_test.go), run by runGoBench and parsed here into targets
// and a section of their own. A benchmark that is missing or failed shows
// as not measured, with the reason.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// clusterMetric is one figure reported by a cluster benchmark.
type clusterMetric struct {
	bench string // benchmark function, without the -GOMAXPROCS suffix
	unit  string // the metric's unit as b.ReportMetric names it
}

var (
	cmLatP50   = clusterMetric{"BenchmarkClusterLatency", "p50-µs"}
	cmLatP99   = clusterMetric{"BenchmarkClusterLatency", "p99-µs"}
	cmPollP50  = clusterMetric{"BenchmarkPollDelay", "p50-ms"}
	cmPollMax  = clusterMetric{"BenchmarkPollDelay", "max-ms"}
	cmRepl     = clusterMetric{"BenchmarkClusterReplication", "events/s"}
	cmCatchUp  = clusterMetric{"BenchmarkClusterCatchUp", "events/s"}
	cmCatchUpS = clusterMetric{"BenchmarkClusterCatchUp", "s-to-catch-up"}
)

// clusterWanted: the cluster rows belong in this report (the section was
// not left out with --only).
func (r *report) clusterWanted() bool {
	return r.cfg.want("gobench") || r.cfg.want("cluster")
}

// benchName strips the -GOMAXPROCS suffix from a benchmark's name.
func benchName(s string) string {
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i]
		}
	}
	return s
}

// clusterValues returns every value of m in the cluster benchmarks'
// output (one per count), or why there is none.
func (r *report) clusterValues(m clusterMetric) ([]float64, string) {
	var vals []float64
	var ran []*goBench
	for _, g := range r.gobench {
		if !g.cluster {
			continue
		}
		ran = append(ran, g)
		for _, br := range benchResults(g.output) {
			if benchName(br.name) != m.bench {
				continue
			}
			f := br.f
			for i := 1; i+1 < len(f); i += 2 {
				if f[i+1] != m.unit {
					continue
				}
				if v, err := strconv.ParseFloat(f[i], 64); err == nil {
					vals = append(vals, v)
				}
			}
		}
	}
	if len(vals) > 0 {
		return vals, ""
	}
	switch {
	case !r.cfg.gobench && r.cfg.quick:
		return nil, "the Go benchmarks are off in a --quick run (add --gobench)"
	case !r.cfg.gobench:
		return nil, "the Go benchmarks were not run (--gobench=false)"
	case len(ran) == 0:
		return nil, "the cluster benchmarks were not run"
	}
	// Why is it missing: a FAIL or SKIP of this benchmark, else the go
	// test error of the run that should have had it.
	for _, g := range ran {
		lines := strings.Split(g.output, "\n")
		for i, l := range lines {
			// "--- FAIL: BenchmarkX-2", after the name when it failed
			// in a benchmark's run.
			j := max(strings.Index(l, "--- FAIL: "), strings.Index(l, "--- SKIP: "))
			if j < 0 {
				continue
			}
			t := l[j:]
			if strings.Contains(t, m.bench) {
				why := strings.TrimSuffix(strings.Fields(t)[1], ":")
				msg := ""
				if i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") {
					msg = strings.TrimSpace(lines[i+1])
				}
				return nil, fmt.Sprintf("%s %s: %s", m.bench, strings.ToLower(why), orDefault(msg, "see the output"))
			}
		}
	}
	for _, g := range ran {
		if g.err != "" {
			return nil, fmt.Sprintf("`%s` failed (%s): %s", g.cmd, g.err, tailLines(strings.TrimSpace(g.output), 1))
		}
	}
	return nil, fmt.Sprintf("no %s result of %s in the output", m.unit, m.bench)
}

// clusterTargets: cross-host latency and replication rate.
func (r *report) clusterTargets() []target {
	if !r.clusterWanted() {
		return nil
	}
	lat := target{what: "cluster: operation on host A → event at a subscriber on host B (local NATS)", goal: goalClusterP99Text, measured: "–", met: notMeasured}
	p99, why := r.clusterValues(cmLatP99)
	if len(p99) > 0 {
		s := summarize(p99)
		lat.measured = fmt.Sprintf("p99 %s ms", msCell(s))
		if p50, _ := r.clusterValues(cmLatP50); len(p50) > 0 {
			lat.measured += fmt.Sprintf(" (p50 %s µs)", cell(summarize(p50)))
		}
		lat.measured += fmt.Sprintf(", %d runs of a Go benchmark: see [Cluster](#cluster-one-share-on-many-hosts-nats-jetstream)", s.n)
		lat.met = verdict(s.med <= goalClusterP99)
	} else {
		lat.measured = "– (" + mdOneLine(why) + ")"
	}
	rep := target{what: "cluster: events replicated, none lost", goal: goalClusterRateText, measured: "–", met: notMeasured}
	rates, why := r.clusterValues(cmRepl)
	if len(rates) > 0 {
		s := summarize(rates)
		rep.measured = fmt.Sprintf("%s events/s, %d runs of a Go benchmark: see [Cluster](#cluster-one-share-on-many-hosts-nats-jetstream)", kfmtCell(s), s.n)
		rep.met = verdict(s.med >= goalClusterRate)
	} else {
		rep.measured = "– (" + mdOneLine(why) + ")"
	}
	return []target{lat, rep}
}

func (r *report) mdCluster(p printer) {
	if !r.clusterWanted() {
		return
	}
	p("## Cluster (one share on many hosts, NATS JetStream)\n\n")
	p("Go benchmarks of a share on two hosts in one process, through one in-process nats-server %s with JetStream (file store) on 127.0.0.1, on the same machine as everything else:\n\n", r.env.natsVersion())
	for _, g := range r.gobench {
		if g.cluster {
			p("- `%s`", g.cmd)
			if g.err != "" {
				p(" — failed: %s", mdOneLine(g.err))
			}
			p("\n")
		}
	}
	if !slices.ContainsFunc(r.gobench, func(g *goBench) bool { return g.cluster }) {
		p("- `go test -run='^$' -bench='ClusterLatency|PollDelay' -benchtime=1x -count=3 ./tests` (as root: real FUSE mounts)\n- `go test -run='^$' -bench=Cluster -benchtime=1x -count=5 ./cluster`\n")
	}
	p("\nEach benchmark runs once per count; cells show the median and min–max over the counts.\n\n")
	p("| what | measured | goal (design.md §6) | |\n|---|---|---|---|\n")
	row := func(what string, m clusterMetric, f func(summary) string, goal string, ok func(float64) bool) {
		v, why := r.clusterValues(m)
		if len(v) == 0 {
			p("| %s | – (%s) | %s | %s |\n", what, mdOneLine(why), goal, map[bool]string{true: notMeasured, false: "—"}[ok != nil])
			return
		}
		s := summarize(v)
		met := "—"
		if ok != nil {
			met = verdict(ok(s.med))
		}
		p("| %s | %s | %s | %s |\n", what, f(s), goal, met)
	}
	ms := func(s summary) string { return msCell(s) + " ms" }
	us := func(s summary) string { return cell(s) + " µs" }
	rate := func(s summary) string { return kfmtCell(s) + " events/s" }
	row("cross-host latency, p50: `mkdir` returns on host h1 → the event at a subscriber of host h2 (two mounts of one SOURCE, inotify watchers, 2000 operations one after another)", cmLatP50, us, "—", nil)
	row("cross-host latency, p99 (as above)", cmLatP99, ms, goalClusterP99Text, func(v float64) bool { return v <= goalClusterP99 })
	row("for comparison: the same kind of change seen by the poll backend (default interval 2 s; 5 changes), p50", cmPollP50, func(s summary) string { return cell(s) + " ms" }, "—", nil)
	row("the poll backend, max of the 5 changes", cmPollMax, func(s summary) string { return cell(s) + " ms" }, "—", nil)
	row("replication: host a's bus → host b's bus through NATS, 200k events, none lost or doubled", cmRepl, rate, goalClusterRateText, func(v float64) bool { return v >= goalClusterRate })
	row("outbox catch-up: 100k events made while NATS was down, then NATS back, until host b has them all", cmCatchUp, rate, "—", nil)
	row("outbox catch-up, time until host b has them all", cmCatchUpS, func(s summary) string { return cell(s) + " s" }, "—", nil)
	p("\n")
	var raw []string
	for _, g := range r.gobench {
		if g.cluster {
			for _, br := range benchResults(g.output) {
				raw = append(raw, br.name+"\t"+strings.Join(br.f, " "))
			}
			for _, l := range strings.Split(g.output, "\n") {
				if strings.Contains(l, "--- FAIL: ") || strings.Contains(l, "--- SKIP: ") {
					raw = append(raw, strings.TrimSpace(l))
				}
			}
		}
	}
	if len(raw) > 0 {
		p("<details><summary>Benchmark lines</summary>\n\n```\n%s\n```\n</details>\n\n", strings.Join(raw, "\n"))
	}
}

// natsVersion is the nats-server module the main module requires.
func (e *env) natsVersion() string {
	return modVersion(e.repo, "github.com/nats-io/nats-server/v2")
}
