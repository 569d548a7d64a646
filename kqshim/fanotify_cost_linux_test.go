package kqshim

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// churnEnv makes a copy of the test binary create and remove files in a
// directory and exit: unrelated activity on SOURCE's filesystem from
// another process, whose CPU time is not the daemon's.
const churnEnv = "KQSHIM_TEST_CHURN"

func init() {
	spec := os.Getenv(churnEnv)
	if spec == "" {
		return
	}
	var dir string
	var n int
	fmt.Sscanf(spec, "%d %s", &n, &dir)
	subs, _ := filepath.Glob(filepath.Join(dir, "d*"))
	for i := range n {
		p := filepath.Join(subs[i%len(subs)], "f"+strconv.Itoa(i))
		if f, err := os.Create(p); err == nil {
			f.Close()
		}
		os.Remove(p)
	}
	os.Exit(0)
}

func churn(tb testing.TB, dir string, n int) {
	tb.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", churnEnv, n, dir))
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("churn: %v: %s", err, out)
	}
}

func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkFanotifyUnrelated measures what activity elsewhere on
// SOURCE's filesystem costs the daemon: b.N files created and removed
// (in subdirectories, as a build or a package manager would) by another
// process in a sibling of SOURCE, then a flush. It reports the daemon's
// CPU time per unrelated operation.
func BenchmarkFanotifyUnrelated(b *testing.B) {
	for _, dirs := range []int{16, 4096} {
		b.Run(fmt.Sprintf("dirs=%d", dirs), func(b *testing.B) { benchUnrelated(b, dirs) })
	}
}

func benchUnrelated(b *testing.B, ndirs int) {
	// A filesystem of its own, so that nobody else's activity on the
	// machine's filesystems is counted.
	dir := b.TempDir()
	if os.Geteuid() == 0 {
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=64m"); err != nil {
			b.Fatal(err)
		}
		defer syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	src, other := filepath.Join(dir, "src"), filepath.Join(dir, "other")
	os.Mkdir(src, 0o755)
	os.Mkdir(other, 0o755)
	var subs []string
	for i := range ndirs {
		d := filepath.Join(other, "d"+strconv.Itoa(i))
		os.Mkdir(d, 0o755)
		subs = append(subs, d)
	}
	w, err := New(Options{Backend: "fanotify"}, Config{Source: src, Publish: func(*eventbus.Event) {}})
	if err != nil {
		b.Skipf("fanotify: %v", err)
	}
	defer w.Close()
	b.ResetTimer()
	start := cpuTime()
	churn(b, other, b.N)
	if !w.Flush(time.Minute) {
		b.Fatal("flush timed out")
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "daemon-cpu-ns/op")
	w.Close()
	b.ReportMetric(0, "ns/op")
}
