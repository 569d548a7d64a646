//go:build linux

package tests

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// Data integrity through the mount: what is written through it is what
// SOURCE holds and what reads back through it, byte for byte, with
// kernel passthrough and with every read and write as a request — and
// the events account for the writes (each ends with one close_write
// carrying the final size).

// dataModes are the two I/O paths every data test runs on.
var dataModes = []struct {
	name string
	opts []mountOption
}{{"passthrough", nil}, {"requests", []mountOption{noPassthrough}}}

// dataRandom returns n deterministic pseudo-random bytes for seed.
func dataRandom(seed uint64, n int) []byte {
	b := make([]byte, n)
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(s).Read(b)
	return b
}

// dataSame fails the test if got differs from want, naming the first
// differing offset instead of dumping the contents.
func dataSame(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: %d bytes, want %d; first difference at offset %d", what, len(got), len(want), i)
}

// dataCheck compares rel in SOURCE and read back through the mount with
// want.
func dataCheck(t testing.TB, m *mount, rel string, want []byte) {
	t.Helper()
	src, err := os.ReadFile(m.srcPath(rel))
	if err != nil {
		t.Fatal(err)
	}
	dataSame(t, "SOURCE "+rel, src, want)
	mnt, err := os.ReadFile(m.path(rel))
	if err != nil {
		t.Fatal(err)
	}
	dataSame(t, "mount "+rel, mnt, want)
}

// dataWriteEvents checks the events of one writer of rel, opened by this
// process and now closed: an optional create (or truncate), then write
// events (at least one if wrote), then exactly one close_write with the
// final size. Write sizes never go down within a run that only extends
// the file (grow) and never exceed the final size.
func dataWriteEvents(t testing.TB, evs []*eventbus.Event, rel string, first eventbus.Type, wrote, grow bool, size int64, pid int) {
	t.Helper()
	i := 0
	if first != eventbus.TypeNone {
		if len(evs) == 0 || evs[0].Type != first {
			t.Fatalf("want %s first:%s", first, describe(evs))
		}
		i = 1
	}
	writes := 0
	var last int64 = -1
	for ; i < len(evs) && evs[i].Type == eventbus.Write; i++ {
		e := evs[i]
		if grow && (e.Size < last || e.Size > size) {
			t.Errorf("write event size %d after %d (final %d):%s", e.Size, last, size, describe(evs[i:i+1]))
		}
		last = e.Size
		writes++
	}
	if wrote && writes == 0 {
		t.Errorf("no write event for data written to %s:%s", rel, describe(evs))
	}
	if wrote && grow && last != size {
		t.Errorf("last write event has size %d, want the final %d:%s", last, size, describe(evs))
	}
	if len(evs) != i+1 || evs[i].Type != eventbus.CloseWrite {
		t.Fatalf("want exactly one close_write after the writes, and nothing else:%s", describe(evs))
	}
	for _, e := range evs {
		if e.Path != rel {
			t.Errorf("event at %q, want %q:%s", e.Path, rel, describe([]*eventbus.Event{e}))
		}
		if int(e.Pid) != pid || e.Comm == "" || e.Origin != eventbus.OriginMount {
			t.Errorf("event not attributed to the writer (pid %d) through the mount:%s", pid, describe([]*eventbus.Event{e}))
		}
		if e.Count > 1 && e.Type != eventbus.Write {
			t.Errorf("coalesced %s:%s", e.Type, describe([]*eventbus.Event{e}))
		}
	}
	if cw := evs[len(evs)-1]; !cw.HasAttr || cw.Size != size {
		t.Errorf("close_write size %d (has attr %v), want %d", cw.Size, cw.HasAttr, size)
	}
}

func TestDataSizes(t *testing.T) {
	sizes := []int{0, 1, 4095, 4096, 4097, 1<<20 + 13, 16 << 20}
	// And a few more at random (seeded: a failure can be rerun).
	rng := rand.New(rand.NewPCG(2, 3))
	for range 4 {
		sizes = append(sizes, 1+rng.IntN(3<<20))
	}
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			r := m.record(t)
			for i, n := range sizes {
				rel := fmt.Sprintf("size-%d", n)
				data := dataRandom(uint64(i), n)
				if err := os.WriteFile(m.path(rel), data, 0o644); err != nil {
					t.Fatal(err)
				}
				evs := closeWrite(r, rel)
				dataWriteEvents(t, evs, rel, eventbus.Create, n > 0, true, int64(n), me)
				dataCheck(t, m, rel, data)
			}
			// Rewriting in place, no size change: still seen as a write.
			rel := fmt.Sprintf("size-%d", 4097)
			data := dataRandom(99, 4097)
			f, err := os.OpenFile(m.path(rel), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(data); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			dataWriteEvents(t, closeWrite(r, rel), rel, eventbus.TypeNone, true, false, 4097, me)
			dataCheck(t, m, rel, data)
			expect(t, r.synced(), me)
		})
	}
}

// pwrite at random offsets, with holes beyond the end, checked against a
// model and with preads through the same descriptor along the way.
func TestDataRandomPwrite(t *testing.T) {
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			r := m.record(t)
			model := dataRandom(1, 256<<10)
			if err := os.WriteFile(m.path("pw"), model, 0o644); err != nil {
				t.Fatal(err)
			}
			closeWrite(r, "pw")
			f, err := os.OpenFile(m.path("pw"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(7, 7))
			fd := int(f.Fd())
			for i := 0; i < 300; i++ {
				off := rng.IntN(3 << 20)
				n := 1 + rng.IntN(70000)
				chunk := dataRandom(uint64(1000+i), n)
				if w, err := unix.Pwrite(fd, chunk, int64(off)); err != nil || w != n {
					t.Fatalf("pwrite %d at %d: %d, %v", n, off, w, err)
				}
				if end := off + n; end > len(model) {
					model = append(model, make([]byte, end-len(model))...)
				}
				copy(model[off:], chunk)
				if i%25 == 0 {
					// Read back a random range through the same descriptor.
					ro := rng.IntN(len(model))
					buf := make([]byte, rng.IntN(200000))
					got, err := unix.Pread(fd, buf, int64(ro))
					if err != nil {
						t.Fatal(err)
					}
					want := model[ro:min(ro+len(buf), len(model))]
					dataSame(t, fmt.Sprintf("pread %d at %d after %d writes", len(buf), ro, i+1), buf[:got], want)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			dataWriteEvents(t, closeWrite(r, "pw"), "pw", eventbus.TypeNone, true, false, int64(len(model)), me)
			dataCheck(t, m, "pw", model)
			expect(t, r.synced(), me)
		})
	}
}

// O_APPEND writes through two descriptors land at the end, as on a local
// filesystem: the same operations are made on a file outside the mount,
// which is the oracle. That includes Linux's pwrite on an O_APPEND
// descriptor, which appends whatever the offset.
func TestDataAppend(t *testing.T) {
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			local := filepath.Join(t.TempDir(), "local")
			head := dataRandom(3, 5000)
			r := m.record(t)
			for _, p := range []string{m.path("log"), local} {
				if err := os.WriteFile(p, head, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			closeWrite(r, "log")
			run := func(path string) {
				a, err := unix.Open(path, unix.O_WRONLY|unix.O_APPEND|unix.O_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				b, err := unix.Open(path, unix.O_RDWR|unix.O_APPEND|unix.O_CLOEXEC, 0)
				if err != nil {
					t.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(11, 11))
				for i := 0; i < 60; i++ {
					chunk := dataRandom(uint64(2000+i), 1+rng.IntN(9000))
					fd := a
					if i%3 == 2 {
						fd = b
					}
					var n int
					if i%5 == 4 {
						n, err = unix.Pwrite(fd, chunk, 10) // appends anyway
					} else {
						n, err = unix.Write(fd, chunk)
					}
					if err != nil || n != len(chunk) {
						t.Fatalf("append %d: %d, %v", len(chunk), n, err)
					}
				}
				unix.Close(a)
				unix.Close(b)
			}
			run(local)
			run(m.path("log"))
			want, err := os.ReadFile(local)
			if err != nil {
				t.Fatal(err)
			}
			// Two handles: two close_writes; wait for both.
			evs := closeWrite(r, "log")
			evs = append(evs, closeWrite(r, "log")...)
			writes, closes := 0, 0
			for _, e := range evs {
				switch {
				case e.Type == eventbus.Write && e.Path == "log":
					writes++
				case e.Type == eventbus.CloseWrite && e.Path == "log":
					closes++
				default:
					t.Errorf("unexpected event:%s", describe([]*eventbus.Event{e}))
				}
				if int(e.Pid) != me {
					t.Errorf("event not attributed to this process:%s", describe([]*eventbus.Event{e}))
				}
			}
			if writes == 0 || closes != 2 || evs[len(evs)-1].Size != int64(len(want)) {
				t.Errorf("want writes and two close_writes, the last with size %d:%s", len(want), describe(evs))
			}
			dataCheck(t, m, "log", want)
			expect(t, r.synced(), me)
		})
	}
}

// dataPattern is a deterministic pseudo-random stream, generated and
// hashed as it goes so that nothing the size of the file is held.
type dataPattern struct {
	rng *rand.ChaCha8
	sum hash.Hash
}

func newDataPattern(seed byte) *dataPattern {
	return &dataPattern{rng: rand.NewChaCha8([32]byte{seed}), sum: sha256.New()}
}

func (p *dataPattern) next(buf []byte) []byte {
	p.rng.Read(buf)
	p.sum.Write(buf)
	return buf
}

// dataHashFile streams path through sha256.
func dataHashFile(t testing.TB, path string) (string, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, f, make([]byte, 4<<20))
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// A file larger than 1 GiB, written sequentially through the mount,
// compared with SOURCE by hash; its events are writes and exactly one
// close_write with the final size.
func TestDataLargeFile(t *testing.T) {
	if testing.Short() {
		t.Skip("writes more than 1 GiB; skipped in -short mode")
	}
	const size = 1<<30 + 4097
	m := newMount(t)
	var st unix.Statfs_t
	if err := unix.Statfs(m.src, &st); err == nil && int64(st.Bavail)*st.Bsize < 2*size {
		cannotRun(t, fmt.Sprintf("not enough free space in %s for a %d-byte file", m.src, int64(size)))
	}
	t.Cleanup(func() { os.Remove(m.srcPath("big")) })
	r := m.record(t)
	f, err := os.OpenFile(m.path("big"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	p := newDataPattern(42)
	buf := make([]byte, 1<<20)
	for left := int64(size); left > 0; {
		chunk := buf[:min(left, int64(len(buf)))]
		if _, err := f.Write(p.next(chunk)); err != nil {
			t.Fatalf("write at %d: %v", size-left, err)
		}
		left -= int64(len(chunk))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sum := hex.EncodeToString(p.sum.Sum(nil))
	evs := closeWrite(r, "big")
	dataWriteEvents(t, evs, "big", eventbus.Create, true, true, size, me)
	expect(t, r.synced(), me)
	t.Logf("passthrough %v: %d events for %d bytes", m.passthrough, len(evs), int64(size))

	for _, p := range []struct{ what, path string }{{"SOURCE", m.srcPath("big")}, {"mount", m.path("big")}} {
		got, n := dataHashFile(t, p.path)
		if n != size || got != sum {
			t.Errorf("%s: %d bytes sha256 %s, want %d bytes %s", p.what, n, got, int64(size), sum)
		}
	}
	if err := os.Remove(m.path("big")); err != nil {
		t.Fatal(err)
	}
	expect(t, r.synced(), me, want{Type: eventbus.Remove, Path: "big", LastLink: true})
}

// A sparse file made through the mount keeps its holes in SOURCE, and
// SEEK_DATA/SEEK_HOLE through the mount find what they find in SOURCE.
func TestDataSparse(t *testing.T) {
	const far = 1 << 30
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			r := m.record(t)
			head, tail := dataRandom(5, 100), dataRandom(6, 5000)
			f, err := os.OpenFile(m.path("sparse"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(head, 0); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt(tail, far); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			const size = far + 5000
			dataWriteEvents(t, closeWrite(r, "sparse"), "sparse", eventbus.Create, true, false, size, me)

			for _, p := range []struct{ what, path string }{{"SOURCE", m.srcPath("sparse")}, {"mount", m.path("sparse")}} {
				var st unix.Stat_t
				if err := unix.Stat(p.path, &st); err != nil {
					t.Fatal(err)
				}
				if st.Size != size || st.Blocks*512 > 1<<20 {
					t.Errorf("%s: size %d blocks %d (%d bytes), want size %d and holes (< 1 MiB allocated)", p.what, st.Size, st.Blocks, st.Blocks*512, int64(size))
				}
			}

			// SEEK_DATA/SEEK_HOLE: the mount answers as SOURCE does.
			sfd, err := unix.Open(m.srcPath("sparse"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(sfd)
			mfd, err := unix.Open(m.path("sparse"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(mfd)
			seek := func(fd int, off int64, whence int) string {
				n, err := unix.Seek(fd, off, whence)
				if err != nil {
					return err.Error()
				}
				return fmt.Sprint(n)
			}
			for _, off := range []int64{0, 50, 4096, 1 << 20, far - 1, far, far + 4999, size, size + 1} {
				for _, wh := range []struct {
					name string
					v    int
				}{{"SEEK_DATA", unix.SEEK_DATA}, {"SEEK_HOLE", unix.SEEK_HOLE}} {
					if got, want := seek(mfd, off, wh.v), seek(sfd, off, wh.v); got != want {
						t.Errorf("%s(%d) through the mount = %s, SOURCE says %s", wh.name, off, got, want)
					}
				}
			}
			// And the answers are the expected ones: data at 0, a hole
			// after the head, data again at 1 GiB, the end is a hole.
			if got := seek(mfd, 0, unix.SEEK_DATA); got != "0" {
				t.Errorf("SEEK_DATA(0) = %s, want 0", got)
			}
			if h, err := unix.Seek(mfd, 0, unix.SEEK_HOLE); err != nil || h < 100 || h > 1<<20 {
				t.Errorf("SEEK_HOLE(0) = %d, %v; want the end of the first block", h, err)
			}
			if got := seek(mfd, 1<<20, unix.SEEK_DATA); got != fmt.Sprint(far) {
				t.Errorf("SEEK_DATA(1 MiB) = %s, want %d", got, far)
			}
			if got := seek(mfd, far, unix.SEEK_HOLE); got != fmt.Sprint(size) {
				t.Errorf("SEEK_HOLE(1 GiB) = %s, want %d", got, size)
			}

			// Contents: the data where it was written, zeros between.
			expectAt := func(fd int, off int64, want []byte) {
				buf := make([]byte, len(want))
				n, err := unix.Pread(fd, buf, off)
				if err != nil {
					t.Fatal(err)
				}
				dataSame(t, fmt.Sprintf("data at %d", off), buf[:n], want)
			}
			expectAt(mfd, 0, head)
			expectAt(mfd, far, tail)
			// The same through the mount as in SOURCE: every data extent
			// SOURCE has in full, and windows at both ends and in the
			// middle of every hole (reading 1 GiB of zeros proves little
			// more and takes seconds).
			for off := int64(0); off < size; {
				data, err := unix.Seek(sfd, off, unix.SEEK_DATA)
				if err != nil {
					data = size // ENXIO: a hole up to the end
				}
				for _, w := range [][2]int64{{off, off + 1<<16}, {(off + data) / 2, (off+data)/2 + 1<<16}, {data - 1<<16, data}} {
					lo, hi := max(w[0], off), min(w[1], data)
					if lo < hi {
						expectAt(mfd, lo, make([]byte, hi-lo))
					}
				}
				if data >= size {
					break
				}
				hole, err := unix.Seek(sfd, data, unix.SEEK_HOLE)
				if err != nil {
					t.Fatal(err)
				}
				if hole-data > 16<<20 {
					t.Fatalf("SOURCE reports %d bytes of data at %d: no holes", hole-data, data)
				}
				buf := make([]byte, hole-data)
				if _, err := unix.Pread(sfd, buf, data); err != nil {
					t.Fatal(err)
				}
				expectAt(mfd, data, buf)
				off = hole
			}
			expect(t, r.synced(), me)
		})
	}
}

// truncate down and up through the mount keeps the content below the cut
// and reads zeros above it, also where the page cache held old data.
func TestDataTruncate(t *testing.T) {
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			data := dataRandom(8, 100_000)
			r := m.record(t)
			if err := os.WriteFile(m.path("t"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			closeWrite(r, "t")
			// Populate the mount's page cache with the old contents.
			dataCheck(t, m, "t", data)

			if err := os.Truncate(m.path("t"), 5000); err != nil {
				t.Fatal(err)
			}
			expect(t, r.synced(), me, want{Type: eventbus.Truncate, Path: "t", Size: 5000, HasSize: true})
			model := append([]byte(nil), data[:5000]...)
			dataCheck(t, m, "t", model)

			f, err := os.OpenFile(m.path("t"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(300_001); err != nil {
				t.Fatal(err)
			}
			expect(t, r.synced(), me, want{Type: eventbus.Truncate, Path: "t", Size: 300_001, HasSize: true})
			model = append(model, make([]byte, 300_001-5000)...)
			// Read through the open descriptor: zeros where the old
			// bytes 5000..100000 were.
			got := make([]byte, len(model)+10)
			n, err := f.ReadAt(got, 0)
			if err != io.EOF && err != nil {
				t.Fatal(err)
			}
			dataSame(t, "read after truncate up", got[:n], model)
			// Down to an unaligned size inside a page, then write past it.
			if err := f.Truncate(4097); err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("end"), 8190); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			model = append(model[:4097], make([]byte, 8190-4097)...)
			model = append(model, "end"...)
			evs := closeWrite(r, "t")
			if len(evs) < 2 || evs[0].Type != eventbus.Truncate || evs[0].Size != 4097 {
				t.Fatalf("want truncate to 4097 first:%s", describe(evs))
			}
			dataWriteEvents(t, evs[1:], "t", eventbus.TypeNone, true, true, int64(len(model)), me)
			dataCheck(t, m, "t", model)
			expect(t, r.synced(), me)
		})
	}
}

// Writes into a MAP_SHARED mapping of a file on the mount reach SOURCE,
// and are reported as writes by the process that mapped the file (the
// kernel's writeback itself carries no pid). Three ways to end: msync
// then munmap and close; munmap and close without msync (the pages are
// written back by munmap/close); and closing the descriptor before
// writing into the mapping ("close-first"), so that only the mapping
// refers to the file any more.
//
// close-first under passthrough: the kernel maps the SOURCE file itself
// and lets go of the FUSE file at close(2), so RELEASE (and close_write)
// come before the writes; the test waits for that close_write before the
// child writes, which makes the order deterministic. The writes reach
// SOURCE, but nothing of them reaches the daemon: no handle is left to
// notice them. That is a documented limit of passthrough (docs/events.md,
// "Writes"); the test checks the data only.
//
// The mapping is made by a child process (this test binary, re-executed):
// munmap writes dirty pages back while it holds the address space lock,
// and a daemon in the same process can then deadlock against its own
// page faults. The events must carry the child's pid: it opened the file.
func TestDataMmapShared(t *testing.T) {
	for _, mode := range dataModes {
		for _, how := range []string{"msync", "no-msync", "close-first"} {
			t.Run(mode.name+"-"+how, func(t *testing.T) {
				m := newMount(t, mode.opts...)
				model := dataRandom(9, dataMmapSize)
				if err := os.WriteFile(m.srcPath("mm"), model, 0o644); err != nil {
					t.Fatal(err)
				}
				r := m.record(t)
				c, cancel := context.WithTimeout(context.Background(), waitLimit)
				defer cancel()
				cmd := exec.CommandContext(c, os.Args[0], "-test.run=^TestDataMmapChild$", "-test.count=1")
				cmd.Env = append(os.Environ(), dataMmapEnv+"="+how+":"+m.path("mm"))
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				cmd.WaitDelay = time.Second
				stdin, err := cmd.StdinPipe()
				if err != nil {
					t.Fatal(err)
				}
				stdout, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				out := bufio.NewReader(stdout)
				var evs []*eventbus.Event
				if how == "close-first" {
					// Reads end when the child does (killed at the latest
					// when c expires).
					if line, _ := out.ReadString('\n'); line != "closed\n" {
						cmd.Wait()
						t.Fatalf("mmap child: %q\n%s", line, stderr.Bytes())
					}
					if m.passthrough {
						evs = closeWrite(r, "mm")
					}
					io.WriteString(stdin, "go\n")
				}
				stdin.Close()
				rest, _ := io.ReadAll(out)
				if err := cmd.Wait(); err != nil {
					t.Fatalf("mmap child: %v\n%s%s", err, rest, stderr.Bytes())
				}
				child := cmd.Process.Pid
				dataMmapPatch(model)
				dataCheck(t, m, "mm", model)
				if how != "close-first" {
					dataWriteEvents(t, closeWrite(r, "mm"), "mm", eventbus.TypeNone, true, false, dataMmapSize, child)
					expect(t, r.synced(), me)
					return
				}
				if m.passthrough {
					return // the documented limit above: data checked, no events to expect
				}
				if len(evs) == 0 {
					evs = closeWrite(r, "mm")
				}
				evs = append(evs, r.synced()...)
				writes, closes := 0, 0
				for _, e := range evs {
					switch e.Type {
					case eventbus.Write:
						writes++
					case eventbus.CloseWrite:
						closes++
					}
				}
				if writes == 0 {
					t.Logf("no write event yet for the writes made through the mapping after close(2) (passthrough %v); waiting up to %v", m.passthrough, waitLimit)
					evs = append(evs, r.until(isType(eventbus.Write, "mm"))...)
				}
				if closes != 1 {
					t.Errorf("want one close_write:%s", describe(evs))
				}
				for _, e := range evs {
					if e.Path != "mm" || int(e.Pid) != child || (e.Type != eventbus.Write && e.Type != eventbus.CloseWrite) {
						t.Errorf("want writes and close_write at mm by pid %d:%s", child, describe([]*eventbus.Event{e}))
					}
				}
				expect(t, r.synced(), me)
			})
		}
	}
}

const (
	dataMmapEnv  = "NOTIFYFS_TEST_MMAP_CHILD"
	dataMmapSize = 3*4096 + 100
)

// dataMmapPatch makes the changes the child makes through its mapping.
func dataMmapPatch(b []byte) {
	for _, off := range []int{0, 4095, 4096, 2*4096 + 7, len(b) - 1} {
		copy(b[off:], dataRandom(uint64(off), min(64, len(b)-off)))
	}
}

// TestDataMmapChild is the child of TestDataMmapShared; it does nothing
// unless run as that child.
func TestDataMmapChild(t *testing.T) {
	how, path, ok := strings.Cut(os.Getenv(dataMmapEnv), ":")
	if !ok {
		return
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, dataMmapSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	if how == "close-first" {
		if err := unix.Close(fd); err != nil {
			t.Fatal(err)
		}
		// The parent says when to go on.
		os.Stdout.WriteString("closed\n")
		if line, _ := bufio.NewReader(os.Stdin).ReadString('\n'); line != "go\n" {
			t.Fatalf("parent said %q", line)
		}
	}
	before := append([]byte(nil), mem...)
	dataSame(t, "mapping before writing", before, dataRandom(9, dataMmapSize))
	dataMmapPatch(mem)
	if how == "msync" {
		if err := unix.Msync(mem, unix.MS_SYNC); err != nil {
			t.Errorf("msync: %v", err)
		}
	}
	if err := unix.Munmap(mem); err != nil {
		t.Errorf("munmap: %v", err)
	}
	if how != "close-first" {
		if err := unix.Close(fd); err != nil {
			t.Fatal(err)
		}
	}
}

// A write followed, before close, by a metadata change of the same file
// (as tar and cp -a do: write, futimens, fchown, fchmod or an ACL, then
// close) is still reported, and before the metadata event: the write
// happened first. Two writes, so that with requests the second is
// folded into a pending report.
func TestDataWriteThenMetadata(t *testing.T) {
	ops := []struct {
		name string
		typ  eventbus.Type
		do   func(f *os.File) error
	}{
		{"fchmod", eventbus.Chmod, func(f *os.File) error { return f.Chmod(0o600) }},
		{"fchown", eventbus.Chown, func(f *os.File) error { return f.Chown(0, 0) }},
		{"futimens", eventbus.Utimes, func(f *os.File) error {
			ts := []unix.Timespec{{Sec: 1e9}, {Sec: 1e9}}
			return unix.UtimesNanoAt(unix.AT_FDCWD, f.Name(), ts, 0)
		}},
		{"fsetxattr", eventbus.Setxattr, func(f *os.File) error { return unix.Fsetxattr(int(f.Fd()), "user.k", []byte("v"), 0) }},
		{"ftruncate-same-size", eventbus.Truncate, func(f *os.File) error { return f.Truncate(8) }},
	}
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, append([]mountOption{writeInterval(time.Hour)}, mode.opts...)...)
			for _, op := range ops {
				t.Run(op.name, func(t *testing.T) {
					rel := "wm-" + op.name
					if err := os.WriteFile(m.srcPath(rel), nil, 0o644); err != nil {
						t.Fatal(err)
					}
					r := m.record(t)
					f, err := os.OpenFile(m.path(rel), os.O_WRONLY, 0)
					if err != nil {
						t.Fatal(err)
					}
					for _, s := range []string{"1234", "5678"} {
						if _, err := f.WriteString(s); err != nil {
							t.Fatal(err)
						}
					}
					if err := op.do(f); err != nil {
						t.Fatal(err)
					}
					if err := f.Close(); err != nil {
						t.Fatal(err)
					}
					evs := closeWrite(r, rel)
					// write+ (the last with size 8), then the change, then
					// close_write.
					i := 0
					for i < len(evs) && evs[i].Type == eventbus.Write {
						i++
					}
					if i == 0 || evs[i-1].Size != 8 || len(evs) != i+2 || evs[i].Type != op.typ {
						t.Errorf("want write events up to size 8, then %s, then close_write:%s", op.typ, describe(evs))
					}
					for _, e := range evs {
						if e.Path != rel || int(e.Pid) != me {
							t.Errorf("event not at %s by this process:%s", rel, describe([]*eventbus.Event{e}))
						}
					}
					dataCheck(t, m, rel, []byte("12345678"))
					expect(t, r.synced(), me)
				})
			}
		})
	}
}
