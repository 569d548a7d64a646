package event

import (
	"strings"
	"testing"
	"time"
)

var sinkEvent *Event

func typicalCreate(p string) *Event {
	return &Event{
		Type: Create, Path: p, HasAttr: true, Ino: 123456, Mode: 0o100644,
		Pid: 4242, Uid: 1000, Gid: 1000, Comm: "touch", Origin: OriginMount,
	}
}

func BenchmarkEventConstruction(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkEvent = typicalCreate("src/pkg/file.go")
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	e := typicalCreate("src/pkg/some directory/file.go")
	e.Seq, e.Time = 123456789, time.Now()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkFilterMatch(b *testing.B) {
	e := typicalCreate("home/user/project/src/pkg/internal/file.go")
	for _, c := range []struct {
		name string
		f    Filter
	}{
		{"none", Filter{}},
		{"prefix", Filter{Prefixes: []string{"var/log", "home/user/project"}}},
		{"glob", Filter{Globs: []string{"**/*.go"}}},
		{"glob-deep", Filter{Globs: []string{"home/**/src/**/internal/*.go"}}},
		{"glob-pathological", Filter{Globs: []string{"**/**/**/**/**/x"}}},
		{"exclude", Filter{Prefixes: []string{"home"}, Excludes: []string{"**/.git/**", "**/node_modules/**"}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := c.f
			if err := f.Validate(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				f.Match(e)
			}
		})
	}
}

// hostileGlob is the costliest glob shape for the matcher: a run of
// one-letter components between two "**" that matches almost everywhere
// in a path of the same letter and fails only at its end, so that every
// restart of the first "**" goes through most of the run.
func hostileGlob(n int) string {
	var sb strings.Builder
	sb.WriteString("**/")
	for range n - 4 {
		sb.WriteString("a/")
	}
	sb.WriteString("b/**/c")
	return sb.String()
}

// BenchmarkFilterHostile is the worst per-event filter cost a client can
// ask for within the limits (MaxGlobComponents of globs), against a
// 4 KiB path of one-letter components: what one event costs that
// subscriber's goroutine (never the publisher's, which does not filter).
func BenchmarkFilterHostile(b *testing.B) {
	f := Filter{}
	for used := 0; used+MaxPatternComponents <= MaxGlobComponents; used += MaxPatternComponents {
		f.Globs = append(f.Globs, hostileGlob(MaxPatternComponents))
	}
	if err := f.Validate(); err != nil {
		b.Fatal(err)
	}
	e := &Event{Type: Create, Path: strings.Repeat("a/", 2047) + "c"}
	b.ResetTimer()
	for range b.N {
		if f.Match(e) {
			b.Fatal("matched")
		}
	}
}
