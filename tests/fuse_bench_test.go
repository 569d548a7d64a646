//go:build linux

package tests

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// Benchmarks of the FUSE operation wrappers: each operation through an
// in-process notifyfs mount with no subscriber and with one subscriber
// (a socket client receiving every event), and the same system call on
// SOURCE directly as the baseline. Run them with a fixed count, e.g.
//
//	go test -run='^$' -bench=. -benchtime=2000x ./tests
//
// The side-by-side comparison with other file systems is the benchmark
// command in tests/bench.

// benchTarget is where one sub-benchmark operates.
type benchTarget struct {
	dir string
	sub *benchSub // nil without a subscriber
}

// benchSub counts the events one socket subscriber receives.
type benchSub struct {
	c     *client.Client
	start uint64
	last  atomic.Uint64
	count atomic.Uint64
	lost  atomic.Uint64
	done  chan struct{}
}

// forEachTarget runs fn as sub-benchmarks: native (SOURCE itself),
// notifyfs (no subscriber) and notifyfs+1sub.
func forEachTarget(b *testing.B, fn func(b *testing.B, t *benchTarget)) {
	b.Run("native", func(b *testing.B) {
		fn(b, &benchTarget{dir: b.TempDir()})
	})
	for _, subs := range []int{0, 1} {
		name := "notifyfs"
		if subs > 0 {
			name = "notifyfs+1sub"
		}
		b.Run(name, func(b *testing.B) {
			m := newMount(b)
			t := &benchTarget{dir: m.mnt}
			if subs > 0 {
				t.sub = subscribe(b, m.sock)
			}
			fn(b, t)
			if t.sub != nil {
				b.StopTimer()
				t.sub.check(b)
			}
		})
	}
}

func subscribe(b *testing.B, sock string) *benchSub {
	b.Helper()
	c, err := client.Dial(ctx(b), sock)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	r, err := c.Subscribe(ctx(b), client.SubscribeRequest{Name: b.Name()})
	if err != nil {
		b.Fatal(err)
	}
	s := &benchSub{c: c, start: r.Seq, done: make(chan struct{})}
	s.last.Store(r.Seq)
	go func() {
		defer close(s.done)
		for e := range c.Events() {
			switch {
			case e.Type == eventbus.Overflow || e.Type == eventbus.Reset:
				s.lost.Add(1)
			case e.Seq != 0:
				if e.Seq != s.last.Load()+1 {
					s.lost.Add(1)
				}
				s.last.Store(e.Seq)
				s.count.Add(1)
			}
		}
	}()
	return s
}

// check syncs and verifies that every event published was received.
func (s *benchSub) check(b *testing.B) {
	b.Helper()
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	seq, err := s.c.Sync(c)
	if err != nil {
		b.Fatal(err)
	}
	for s.last.Load() < seq {
		select {
		case <-c.Done():
			b.Fatalf("events up to %d not received (at %d)", seq, s.last.Load())
		case <-s.done:
			b.Fatalf("connection ended: %v", s.c.Err())
		case <-time.After(100 * time.Microsecond):
		}
	}
	if n := s.count.Load(); s.lost.Load() != 0 || n != s.last.Load()-s.start {
		b.Fatalf("lost events: received %d of %d", n, s.last.Load()-s.start)
	}
}

// files returns n paths spread over directories of 1000, creating the
// directories.
func benchFiles(b *testing.B, dir string, n int) []string {
	b.Helper()
	out := make([]string, n)
	var d string
	for i := range out {
		if i%1000 == 0 {
			d = filepath.Join(dir, "d"+strconv.Itoa(i/1000))
			if err := unix.Mkdir(d, 0o755); err != nil {
				b.Fatal(err)
			}
		}
		out[i] = filepath.Join(d, "f"+strconv.Itoa(i))
	}
	return out
}

func benchCreate(b *testing.B, path string, data []byte) {
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	if len(data) > 0 {
		if _, err := unix.Write(fd, data); err != nil {
			b.Fatal(err)
		}
	}
	if err := unix.Close(fd); err != nil {
		b.Fatal(err)
	}
}

// uniqueDir makes a fresh directory for one run of a benchmark function
// (the function runs more than once with growing b.N).
func uniqueDir(b *testing.B, parent string) string {
	b.Helper()
	d := filepath.Join(parent, fmt.Sprintf("run%d-%d", b.N, time.Now().UnixNano()))
	if err := unix.Mkdir(d, 0o755); err != nil {
		b.Fatal(err)
	}
	return d
}

func BenchmarkCreateWriteClose(b *testing.B) {
	data := make([]byte, 4096)
	forEachTarget(b, func(b *testing.B, t *benchTarget) {
		files := benchFiles(b, uniqueDir(b, t.dir), b.N)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			benchCreate(b, files[i], data)
		}
	})
}

func BenchmarkStat(b *testing.B) {
	forEachTarget(b, func(b *testing.B, t *benchTarget) {
		files := benchFiles(b, uniqueDir(b, t.dir), 1000)
		for _, f := range files {
			benchCreate(b, f, nil)
		}
		var st unix.Stat_t
		for _, f := range files { // warm
			unix.Lstat(f, &st)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := unix.Lstat(files[i%len(files)], &st); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkRename(b *testing.B) {
	forEachTarget(b, func(b *testing.B, t *benchTarget) {
		files := benchFiles(b, uniqueDir(b, t.dir), b.N)
		for _, f := range files {
			benchCreate(b, f, nil)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := unix.Rename(files[i], files[i]+".r"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUnlink(b *testing.B) {
	forEachTarget(b, func(b *testing.B, t *benchTarget) {
		files := benchFiles(b, uniqueDir(b, t.dir), b.N)
		for _, f := range files {
			benchCreate(b, f, nil)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := unix.Unlink(files[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkMkdirRmdir(b *testing.B) {
	forEachTarget(b, func(b *testing.B, t *benchTarget) {
		d := filepath.Join(uniqueDir(b, t.dir), "d")
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if err := unix.Mkdir(d, 0o755); err != nil {
				b.Fatal(err)
			}
			if err := unix.Rmdir(d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
