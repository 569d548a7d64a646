package kqshim

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"
)

// An index reads back as written; any damaged byte makes it unusable
// as a whole, never half-read.
func TestIndexEncoding(t *testing.T) {
	tr := tree{
		"":         {Ino: 1, Dev: 9, Mode: syscall.S_IFDIR | 0o755, Nlink: 3},
		"a":        {Ino: 2, Dev: 9, Birth: 5, Mode: syscall.S_IFREG | 0o644, Size: 10, Mtime: -3, Ctime: 7, UID: 1000, GID: 100, Nlink: 1},
		"a b/c":    {Ino: 3, Mode: syscall.S_IFREG},
		"a b/cd/é": {Ino: 4, Mode: syscall.S_IFLNK | 0o777, Size: 1 << 40},
	}
	h := indexHeader{srcDev: 9, srcIno: 1, epoch: "ep", seq: 42}
	b := encodeIndex(h, tr)
	gh, gt, err := decodeIndex(b)
	if err != nil || gh != h || !reflect.DeepEqual(gt, tr) {
		t.Fatalf("round trip: %+v %v %v", gh, gt, err)
	}
	for i := range b {
		d := append([]byte(nil), b...)
		d[i] ^= 0x40
		if _, _, err := decodeIndex(d); !errors.Is(err, ErrIndex) {
			t.Fatalf("byte %d damaged, yet read: %v", i, err)
		}
	}
	if _, _, err := decodeIndex(b[:len(b)-1]); !errors.Is(err, ErrIndex) {
		t.Fatalf("truncated index read: %v", err)
	}
}

// BenchmarkIndexStartup measures what the offline index costs a mount of
// a 100k-file tree (docs/performance.md): scanning SOURCE, writing the
// index, and at the next mount reading it and comparing (1% changed).
func BenchmarkIndexStartup(b *testing.B) {
	const dirs, perDir = 100, 1000
	root := b.TempDir()
	for d := 0; d < dirs; d++ {
		dir := filepath.Join(root, fmt.Sprintf("d%03d", d))
		os.Mkdir(dir, 0o755)
		for f := 0; f < perDir; f++ {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%04d.txt", f)), nil, 0o644)
		}
	}
	fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer syscall.Close(fd)
	idx := filepath.Join(b.TempDir(), IndexFile)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		old, err := scanWithRoot(fd, nil, false)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := writeFileAtomic(idx, encodeIndex(indexHeader{}, old)); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		b.StopTimer()
		for d := 0; d < dirs; d++ { // 1% changed while "unmounted"
			for f := 0; f < perDir/100; f++ {
				os.WriteFile(filepath.Join(root, fmt.Sprintf("d%03d/file-%04d.txt", d, f)), []byte("x"), 0o644)
			}
		}
		now, _ := scanWithRoot(fd, nil, false)
		b.StartTimer()
		t3 := time.Now()
		data, _ := os.ReadFile(idx)
		_, loaded, err := decodeIndex(data)
		if err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		evs := diff(loaded, now)
		t5 := time.Now()
		if len(evs) != dirs*perDir/100 {
			b.Fatalf("%d changes found", len(evs))
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(t1.Sub(t0)), "scan-ms")
		b.ReportMetric(ms(t2.Sub(t1)), "write-ms")
		b.ReportMetric(ms(t4.Sub(t3)), "load-ms")
		b.ReportMetric(ms(t5.Sub(t4)), "diff-ms")
		b.ReportMetric(float64(len(data))/1e6, "index-MB")
	}
}
