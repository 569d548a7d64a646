package main

import (
	"os"
	"slices"
	"strings"

	"github.com/google/pprof/profile"
)

// share is one row of a profile breakdown.
type share struct {
	name string
	pct  float64
}

// profileBreakdown attributes the CPU samples of a profile three ways:
// by the FUSE operation being served, by the system call being made,
// and by notifyfs function (inclusive, counted once per sample).
type profileBreakdown struct {
	total      float64 // seconds
	byOp       []share
	bySyscall  []share
	byFunc     []share
	syscallPct float64
	// funcPct and callPct hold every notifyfs function (inclusive) and
	// system call, not only the rows shown.
	funcPct, callPct map[string]float64
}

func analyzeProfile(path string) (*profileBreakdown, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, err
	}
	vi := len(p.SampleType) - 1 // cpu nanoseconds
	ops, calls, funcs := map[string]int64{}, map[string]int64{}, map[string]int64{}
	var total, inSyscall int64
	for _, s := range p.Sample {
		v := s.Value[vi]
		total += v
		var stack []string // leaf first
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				if ln.Function != nil {
					stack = append(stack, ln.Function.Name)
				}
			}
		}
		ops[opOf(stack)] += v
		if sc := syscallOf(stack); sc != "" {
			calls[sc] += v
			inSyscall += v
		}
		seen := map[string]bool{}
		for _, fn := range stack {
			if strings.HasPrefix(fn, "github.com/notifyfs/notifyfs/") && !seen[fn] {
				seen[fn] = true
				funcs[strings.TrimPrefix(fn, "github.com/notifyfs/notifyfs/")] += v
			}
		}
	}
	if total == 0 {
		return &profileBreakdown{}, nil
	}
	rows := func(m map[string]int64, n int) []share {
		var out []share
		for k, v := range m {
			out = append(out, share{k, 100 * float64(v) / float64(total)})
		}
		slices.SortFunc(out, func(a, b share) int { return cmpF(b.pct, a.pct) })
		if len(out) > n {
			out = out[:n]
		}
		return out
	}
	pcts := func(m map[string]int64) map[string]float64 {
		out := make(map[string]float64, len(m))
		for k, v := range m {
			out[k] = 100 * float64(v) / float64(total)
		}
		return out
	}
	return &profileBreakdown{
		funcPct: pcts(funcs), callPct: pcts(calls),
		total:      float64(total) / 1e9,
		byOp:       rows(ops, 14),
		bySyscall:  rows(calls, 14),
		byFunc:     rows(funcs, 18),
		syscallPct: 100 * float64(inSyscall) / float64(total),
	}, nil
}

// opOf names what a sample's goroutine was doing.
func opOf(stack []string) string {
	for i := len(stack) - 1; i >= 0; i-- {
		fn := stack[i]
		if i := strings.Index(fn, "go-fuse/v2/fs.(*rawBridge)."); i >= 0 {
			return "FUSE " + fn[i+len("go-fuse/v2/fs.(*rawBridge)."):]
		}
	}
	for _, fn := range stack {
		switch {
		case strings.Contains(fn, "fuse.(*Server).readRequest") || strings.Contains(fn, "fuse.(*fuseFD).readRequest"):
			return "reading /dev/fuse"
		case strings.Contains(fn, "fuse.(*Server).write") || strings.Contains(fn, "fuse.(*Server).systemWrite"):
			return "replying on /dev/fuse"
		case strings.Contains(fn, "notifyfs/subscribers"):
			return "subscriber connections (encode, write)"
		case strings.Contains(fn, "notifyfs/eventbus"):
			return "event bus"
		case strings.HasPrefix(fn, "runtime.gcBgMarkWorker") || strings.HasPrefix(fn, "runtime.gcAssist") || strings.HasPrefix(fn, "runtime.bgsweep") || strings.HasPrefix(fn, "runtime.bgscavenge"):
			return "Go garbage collector"
		case strings.Contains(fn, "notifyfs/fusefs.(*FS).reportWritesEvery"):
			return "write reporter"
		}
	}
	for _, fn := range stack {
		if strings.Contains(fn, "fuse.(*Server).loop") || strings.Contains(fn, "fuse.(*Server).handleRequest") {
			return "go-fuse request loop"
		}
	}
	for _, fn := range stack {
		if strings.HasPrefix(fn, "runtime.") {
			return "Go runtime (scheduler, other)"
		}
	}
	return "other"
}

// syscallOf names the system call a sample is in, from the first
// wrapper above the raw entry point, or "" if it is in none.
func syscallOf(stack []string) string {
	in := false
	for _, fn := range stack {
		if strings.HasSuffix(fn, "linux.Syscall6") || fn == "syscall.Syscall" || fn == "syscall.Syscall6" || fn == "syscall.RawSyscall6" ||
			fn == "syscall.rawSyscallNoError" || fn == "syscall.RawSyscall" || fn == "golang.org/x/sys/unix.Syscall" || fn == "golang.org/x/sys/unix.Syscall6" ||
			fn == "golang.org/x/sys/unix.RawSyscall" || fn == "golang.org/x/sys/unix.RawSyscallNoError" || fn == "syscall.RawSyscallNoError" {
			in = true
			continue
		}
		if !in {
			continue
		}
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/runtime") {
			continue
		}
		name := fn
		name = strings.TrimPrefix(name, "golang.org/x/sys/")
		name = strings.TrimPrefix(name, "internal/poll.")
		return name
	}
	return ""
}
