package main

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

var palette = []color.Color{
	color.RGBA{0x55, 0x55, 0x55, 0xff}, // native
	color.RGBA{0x1f, 0x77, 0xb4, 0xff}, // loopback
	color.RGBA{0x9e, 0x9a, 0xc8, 0xff}, // bindfs
	color.RGBA{0xff, 0x7f, 0x0e, 0xff}, // notifyfs
	color.RGBA{0xd6, 0x27, 0x28, 0xff}, // +1
	color.RGBA{0x8c, 0x1c, 0x13, 0xff}, // +10
	color.RGBA{0x2c, 0xa0, 0x2c, 0xff}, // +1, batched
}

func sysColor(name string) color.Color {
	switch name {
	case sNative:
		return palette[0]
	case sLoopback:
		return palette[1]
	case sBindfs:
		return palette[2]
	case sNotify0:
		return palette[3]
	case sNotify1:
		return palette[4]
	case sNotify10:
		return palette[5]
	case sNotify1B:
		return palette[6]
	}
	return color.Black
}

// ratioBars draws, for each metric, one bar per system: the median of the
// per-round ratio to base.
func ratioBars(file, title, base string, metrics []*metric, systems []sysSpec) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "× " + base + " (median of per-round ratios; lower is better)"
	var labels []string
	for _, m := range metrics {
		labels = append(labels, m.shortTitle())
	}
	var shown []sysSpec
	for _, s := range systems {
		if s.name != base {
			shown = append(shown, s)
		}
	}
	w := vg.Points(float64(min(16, 90/max(1, len(shown)))))
	maxV := 1.0
	for i, s := range shown {
		vals := make(plotter.Values, len(metrics))
		for j, m := range metrics {
			v := summarize(m.ratios(s.name, base)).med
			if math.IsNaN(v) {
				v = 0
			}
			vals[j] = v
			maxV = math.Max(maxV, v)
		}
		if err := addBars(p, vals, w, i, len(shown), s.name); err != nil {
			return err
		}
	}
	one := plotter.NewFunction(func(float64) float64 { return 1 })
	one.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	one.Color = color.Black
	p.Add(one)
	p.Legend.Top = true
	p.Legend.Left = true
	p.NominalX(labels...)
	p.Y.Min = 0
	p.Y.Max = maxV * 1.4
	p.Add(plotter.NewGrid())
	return p.Save(vg.Length(max(7, 1.6*float64(len(metrics))))*vg.Inch, 4.5*vg.Inch, file)
}

// growthLines draws µs per file against N for each system.
func growthLines(file string, ms []*metric, ns []int, systems []sysSpec) error {
	p := plot.New()
	p.Title.Text = "create + write 4 KiB + close: cost per file as N grows"
	p.X.Label.Text = "N (files)"
	p.Y.Label.Text = "µs per file (median, bars: min–max)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	lo, hi := math.Inf(1), 0.0
	for _, s := range systems {
		pts := make(plotter.XYs, len(ms))
		errs := make(plotter.YErrors, len(ms))
		for i, m := range ms {
			sm := summarize(m.vals[s.name])
			pts[i] = plotter.XY{X: float64(ns[i]), Y: sm.med}
			lo, hi = math.Min(lo, sm.min), math.Max(hi, sm.max)
			errs[i] = struct{ Low, High float64 }{sm.med - sm.min, sm.max - sm.med}
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		l.Color, sc.Color = sysColor(s.name), sysColor(s.name)
		l.Width = vg.Points(1.5)
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs})
		if err == nil {
			eb.Color = sysColor(s.name)
			p.Add(eb)
		}
		p.Add(l, sc)
		p.Legend.Add(s.name, l, sc)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Y.Min, p.Y.Max = lo/1.5, hi*6 // room for the legend above the lines
	p.X.Min, p.X.Max = float64(ns[0])/1.3, float64(ns[len(ns)-1])*1.3
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4.5*vg.Inch, file)
}

// latencyCDF draws the distribution of event latencies per system.
func latencyCDF(file string, runs []*latRun, systems []string) error {
	var series []cdfSeries
	for _, sys := range systems {
		var all []float64
		for _, r := range runs {
			if r.sys == sys {
				for _, v := range r.samples {
					all = append(all, math.Max(1, v))
				}
			}
		}
		series = append(series, cdfSeries{name: sys, samples: all})
	}
	return cdfPlot(file, cdfSpec{
		title:  "Event latency: operation return → subscriber receives the event",
		xLabel: "latency, µs (log scale; ≤ 1 µs and negative drawn at 1)",
		cols:   []color.Color{palette[4], palette[5], palette[1]},
		legend: func(p99 float64) string { return fmt.Sprintf("p99 %.0f µs", p99) },
		target: 1000, targetLabel: "target: p99 ≤ 1 ms",
	}, series)
}

// cdfSpec is how a latency distribution plot looks.
type cdfSpec struct {
	title, xLabel string
	cols          []color.Color
	legend        func(p99 float64) string // the part of a series' legend after its name
	target        float64                  // a dashed vertical line here, labelled targetLabel
	targetLabel   string
	fitLeft       bool // start the x axis just below the smallest sample
}

// cdfSeries is one line: samples already in the plot's unit, clamped to
// what a log scale can draw.
type cdfSeries struct {
	name    string
	samples []float64
}

// cdfPlot draws cumulative distributions on a log x axis, one line per
// series (at most 2000 points each), with a target line.
func cdfPlot(file string, spec cdfSpec, series []cdfSeries) error {
	p := plot.New()
	p.Title.Text = spec.title
	p.X.Label.Text = spec.xLabel
	p.Y.Label.Text = "fraction of events"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	lo := math.Inf(1)
	for i, sr := range series {
		all := slices.Clone(sr.samples)
		if len(all) == 0 {
			continue
		}
		slices.Sort(all)
		lo = math.Min(lo, all[0])
		step := max(1, len(all)/2000)
		var pts plotter.XYs
		for j := 0; j < len(all); j += step {
			pts = append(pts, plotter.XY{X: all[j], Y: float64(j+1) / float64(len(all))})
		}
		pts = append(pts, plotter.XY{X: all[len(all)-1], Y: 1})
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = spec.cols[i%len(spec.cols)]
		l.Width = vg.Points(2)
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%s)", sr.name, spec.legend(percentile(all, 99))), l)
	}
	if tl, err := plotter.NewLine(plotter.XYs{{X: spec.target, Y: 0}, {X: spec.target, Y: 1}}); err == nil {
		tl.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		tl.Color = color.Black
		p.Add(tl)
		p.Legend.Add(spec.targetLabel, tl)
	}
	if spec.fitLeft && !math.IsInf(lo, 0) {
		p.X.Min = lo / 1.5
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.XOffs = vg.Points(5)
	p.Y.Min, p.Y.Max = 0, 1.45
	p.Add(plotter.NewGrid())
	return p.Save(8*vg.Inch, 4.5*vg.Inch, file)
}

// rateLines draws delivered against offered events per second.
func rateLines(file string, steps map[string][][]rateStep) error {
	p := plot.New()
	p.Title.Text = "One subscriber: events/s delivered vs offered (bus → socket → subscriber)"
	p.X.Label.Text = "offered events/s (last point: as fast as the publisher goes)"
	p.Y.Label.Text = "events/s (median)"
	line := func(st [][]rateStep, f func(rateStep) float64) plotter.XYs {
		var out plotter.XYs
		for _, s := range st {
			if len(s) == 0 {
				continue
			}
			var o, v, pb []float64
			for _, x := range s {
				o = append(o, x.offered)
				v = append(v, f(x))
				pb = append(pb, x.published)
			}
			off := summarize(o).med
			if off == 0 {
				off = summarize(pb).med
			}
			out = append(out, plotter.XY{X: off, Y: summarize(v).med})
		}
		slices.SortFunc(out, func(a, b plotter.XY) int { return cmpF(a.X, b.X) })
		return out
	}
	del := line(steps[rateClient], func(s rateStep) float64 { return s.delivered })
	raw := line(steps[rateRaw], func(s rateStep) float64 { return s.delivered })
	pub := line(steps[rateClient], func(s rateStep) float64 { return s.published })
	if err := plotutil.AddLinePoints(p, "delivered, Go client", del, "delivered, raw line reader", raw, "published", pub); err != nil {
		return err
	}
	t := plotter.NewFunction(func(float64) float64 { return 200e3 })
	t.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	t.Color = color.RGBA{0xd6, 0x27, 0x28, 0xff}
	p.Add(t)
	p.Legend.Add("target 200k/s", t)
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	p.Y.Min = 0
	p.X.Min = 0
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Min = 50e3
	return p.Save(7*vg.Inch, 4.5*vg.Inch, file)
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// throughputBars draws sequential throughput per system.
func throughputBars(file string, ms []*metric, systems []sysSpec) error {
	p := plot.New()
	p.Title.Text = "Sequential throughput (median)"
	p.Y.Label.Text = "MiB/s (higher is better)"
	var labels []string
	for _, m := range ms {
		labels = append(labels, m.shortTitle())
	}
	w := vg.Points(float64(min(22, 160/max(1, len(systems)))))
	for i, s := range systems {
		vals := make(plotter.Values, len(ms))
		for j, m := range ms {
			v := summarize(m.vals[s.name]).med
			if math.IsNaN(v) {
				v = 0
			}
			vals[j] = v
		}
		if err := addBars(p, vals, w, i, len(systems), s.name); err != nil {
			return err
		}
	}
	p.Legend.Top = true
	p.NominalX(labels...)
	p.Add(plotter.NewGrid())
	return p.Save(7*vg.Inch, 4.5*vg.Inch, file)
}

// rssBars draws the daemons' RSS after the walks.
func rssBars(file string, res []*rssResult, systems []sysSpec, sizes []int) error {
	p := plot.New()
	p.Title.Text = "Daemon memory after stat-ing every entry of a tree through the mount"
	p.Y.Label.Text = "VmRSS, MiB (median)"
	var labels []string
	for _, n := range sizes {
		labels = append(labels, kfmt(n)+" entries")
	}
	w := vg.Points(28)
	for i, s := range systems {
		vals := make(plotter.Values, len(sizes))
		for j, n := range sizes {
			var v []float64
			for _, r := range res {
				if r.sys == s.name && r.entries == n {
					v = append(v, float64(r.rss)/(1<<20))
				}
			}
			vals[j] = summarize(v).med
			if math.IsNaN(vals[j]) {
				vals[j] = 0
			}
		}
		if err := addBars(p, vals, w, i, len(systems), s.name); err != nil {
			return err
		}
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(labels...)
	p.Add(plotter.NewGrid())
	return p.Save(6*vg.Inch, 4*vg.Inch, file)
}

func imgPath(dir, name string) string { return filepath.Join(dir, name) }

// addBars adds system name's bars as the i-th of n groups side by side.
func addBars(p *plot.Plot, vals plotter.Values, w vg.Length, i, n int, name string) error {
	b, err := plotter.NewBarChart(vals, w)
	if err != nil {
		return err
	}
	b.Color = sysColor(name)
	b.LineStyle.Width = 0
	b.Offset = w * vg.Length(float64(i)-float64(n-1)/2)
	p.Add(b)
	p.Legend.Add(name, b)
	return nil
}
