package main

import (
	"math"
	"slices"
)

// metric is one measured quantity: a value per system per round.
type metric struct {
	key    string // stable id
	title  string // table row label
	unit   string
	higher bool // higher is better (throughput); else lower (time)
	// vals[system][round]; NaN where a round has no value.
	vals map[string][]float64
	// cpu[system][round]: daemon CPU per operation, same unit as the
	// metric when it is a time per operation (else unused).
	cpu map[string][]float64
	// tail[system][round]: time for subscribers to receive everything
	// after the workload returned (ms).
	tail map[string][]float64
	// cs[system][round]: the daemon's context switches (all threads,
	// voluntary and involuntary) per operation, or per run.
	cs   map[string][]float64
	ops  int // operations per run, for the notes
	note string
}

func newMetric(key, title, unit string, higher bool) *metric {
	return &metric{key: key, title: title, unit: unit, higher: higher,
		vals: map[string][]float64{}, cpu: map[string][]float64{}, tail: map[string][]float64{}, cs: map[string][]float64{}}
}

func (m *metric) add(sys string, round int, v float64) { put(m.vals, sys, round, v) }

func put(mp map[string][]float64, sys string, round int, v float64) {
	s := mp[sys]
	for len(s) <= round {
		s = append(s, math.NaN())
	}
	s[round] = v
	mp[sys] = s
}

// summary is a median with its min and max.
type summary struct {
	med, min, max float64
	n             int
}

func summarize(v []float64) summary {
	var x []float64
	for _, f := range v {
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			x = append(x, f)
		}
	}
	if len(x) == 0 {
		return summary{med: math.NaN(), min: math.NaN(), max: math.NaN()}
	}
	slices.Sort(x)
	return summary{med: median(x), min: x[0], max: x[len(x)-1], n: len(x)}
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// ratios divides sys by base round by round (the comparison is always
// inside one round).
func (m *metric) ratios(sys, base string) []float64 {
	a, b := m.vals[sys], m.vals[base]
	var out []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		if math.IsNaN(a[i]) || math.IsNaN(b[i]) || b[i] == 0 {
			continue
		}
		out = append(out, a[i]/b[i])
	}
	return out
}

// percentile of sorted data, nearest-rank.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

// rotate returns s rotated left by k: round k starts with a different
// system, so that drift over a round hits each system at each position.
func rotate[T any](s []T, k int) []T {
	if len(s) == 0 {
		return s
	}
	k %= len(s)
	return append(append([]T(nil), s[k:]...), s[:k]...)
}
