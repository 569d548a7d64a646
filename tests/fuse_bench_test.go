//go:build linux

package tests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/fusefs"
	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers"
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
	sub *benchSub   // nil without a subscriber
	rc  *reqCounter // the mount's FUSE requests; nil for native
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
// loopback (go-fuse's own loopback file system with notifyfs's mount
// options), notifyfs (no subscriber) and notifyfs+1sub, the last two
// with the journal on as `notifyfs mount` runs. Every FUSE target counts
// the requests its server receives while the timer runs and reports them
// per operation by opcode ("lookup/op", "getattr/op", ...,
// "total-req/op"); the notifyfs targets also report their time per
// operation relative to the loopback's of the same run ("x-loopback").
func forEachTarget(b *testing.B, fn func(b *testing.B, t *benchTarget)) {
	b.Run("native", func(b *testing.B) {
		t := &benchTarget{dir: b.TempDir()}
		fn(b, t)
	})
	var loopNs float64 // the loopback's ns/op (its last run)
	b.Run("loopback", func(b *testing.B) {
		t := newLoopbackTarget(b)
		fn(b, t)
		b.StopTimer()
		loopNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		t.rc.report(b)
	})
	for _, subs := range []int{0, 1} {
		name := "notifyfs"
		if subs > 0 {
			name = "notifyfs+1sub"
		}
		b.Run(name, func(b *testing.B) {
			t := newNotifyfsTarget(b)
			if subs > 0 {
				t.sub = subscribe(b, t.sock)
			}
			fn(b, &t.benchTarget)
			b.StopTimer()
			if loopNs > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/loopNs, "x-loopback")
			}
			t.rc.report(b)
			if t.sub != nil {
				t.sub.check(b)
			}
		})
	}
}

// startTimer starts the measurement: it waits until the mount has
// answered what the setup left in flight (RELEASE after a close and
// FORGET are asynchronous), then zeroes the request counts and the timer.
func (t *benchTarget) startTimer(b *testing.B) {
	if t.rc != nil {
		b.StopTimer()
		t.rc.quiesce()
		t.rc.reset()
		b.StartTimer()
	}
	b.ResetTimer()
}

// refreshNames lets the kernel's entries of the names (with suffix)
// expire on a FUSE target and looks each up again, so that the timed
// operation finds all of them freshly cached on every target alike,
// rather than however many outlived the mounts' 1 s entry lifetime since
// the setup made them (a look-up within the lifetime does not renew it).
func (t *benchTarget) refreshNames(b *testing.B, files []string, suffix string) {
	if t.rc == nil {
		return
	}
	time.Sleep(1100 * time.Millisecond)
	var st unix.Stat_t
	for _, f := range files {
		if err := unix.Lstat(f+suffix, &st); err != nil {
			b.Fatal(err)
		}
	}
}

// reqCounter is the go-fuse RawFileSystem of a mount (fs.NewNodeFS)
// wrapped to count every request the server hands it, by opcode. go-fuse
// v2.12 has no request statistics of its own (Server.RecordLatencies is
// a no-op kept for compatibility, and the debug log formats every
// request, which costs more than the requests being measured); an atomic
// add per request does not show next to a FUSE round trip. INIT,
// INTERRUPT and NOTIFY_REPLY are answered by the server itself and not
// counted; a BATCH_FORGET counts one forget per node it names.
type reqCounter struct {
	fuse.RawFileSystem
	n [rqCount]atomic.Uint64
}

const (
	rqLookup = iota
	rqGetattr
	rqAccess
	rqCreate
	rqOpen
	rqGetxattr
	rqWrite
	rqRead
	rqSetattr
	rqFlush
	rqRelease
	rqRename
	rqUnlink
	rqMkdir
	rqRmdir
	rqMknod
	rqLink
	rqSymlink
	rqReadlink
	rqListxattr
	rqSetxattr
	rqRemovexattr
	rqTmpfile
	rqLseek
	rqGetlk
	rqSetlk
	rqSetlkw
	rqCopyFileRange
	rqIoctl
	rqFsync
	rqFallocate
	rqOpendir
	rqReaddir
	rqReaddirplus
	rqReleasedir
	rqFsyncdir
	rqStatfs
	rqStatx
	rqForget // nodes forgotten (FORGET, or one per node of BATCH_FORGET)
	rqCount
)

var rqNames = [rqCount]string{
	"lookup", "getattr", "access", "create", "open", "getxattr", "write", "read", "setattr", "flush", "release",
	"rename", "unlink", "mkdir", "rmdir", "mknod", "link", "symlink", "readlink", "listxattr", "setxattr", "removexattr",
	"tmpfile", "lseek", "getlk", "setlk", "setlkw", "copy_file_range", "ioctl", "fsync", "fallocate",
	"opendir", "readdir", "readdirplus", "releasedir", "fsyncdir", "statfs", "statx", "forget",
}

func (c *reqCounter) reset() {
	for i := range c.n {
		c.n[i].Store(0)
	}
}

// total is every request counted, forgets included.
func (c *reqCounter) total() uint64 {
	var n uint64
	for i := range c.n {
		n += c.n[i].Load()
	}
	return n
}

// quiesce waits until no request has arrived for 30 ms (at most 2 s).
func (c *reqCounter) quiesce() {
	last, still := c.total(), 0
	for deadline := time.Now().Add(2 * time.Second); still < 6 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		if n := c.total(); n != last {
			last, still = n, 0
		} else {
			still++
		}
	}
}

// report waits for the requests still in flight (RELEASE, FORGET) and
// reports the counts per operation: "<opcode>/op" for every opcode seen,
// and "total-req/op", which leaves the forgets out (they are node counts,
// and a BATCH_FORGET carries many).
func (c *reqCounter) report(b *testing.B) {
	c.quiesce()
	var total uint64
	for i := range c.n {
		n := c.n[i].Load()
		if n == 0 {
			continue
		}
		if i != rqForget {
			total += n
		}
		b.ReportMetric(float64(n)/float64(b.N), rqNames[i]+"/op")
	}
	b.ReportMetric(float64(total)/float64(b.N), "total-req/op")
}

func (c *reqCounter) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	c.n[rqLookup].Add(1)
	return c.RawFileSystem.Lookup(cancel, h, name, out)
}

func (c *reqCounter) Forget(nodeid, nlookup uint64) {
	c.n[rqForget].Add(1)
	c.RawFileSystem.Forget(nodeid, nlookup)
}

func (c *reqCounter) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	c.n[rqGetattr].Add(1)
	return c.RawFileSystem.GetAttr(cancel, in, out)
}

func (c *reqCounter) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	c.n[rqSetattr].Add(1)
	return c.RawFileSystem.SetAttr(cancel, in, out)
}

func (c *reqCounter) Mknod(cancel <-chan struct{}, in *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	c.n[rqMknod].Add(1)
	return c.RawFileSystem.Mknod(cancel, in, name, out)
}

func (c *reqCounter) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	c.n[rqMkdir].Add(1)
	return c.RawFileSystem.Mkdir(cancel, in, name, out)
}

func (c *reqCounter) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	c.n[rqUnlink].Add(1)
	return c.RawFileSystem.Unlink(cancel, h, name)
}

func (c *reqCounter) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	c.n[rqRmdir].Add(1)
	return c.RawFileSystem.Rmdir(cancel, h, name)
}

func (c *reqCounter) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	c.n[rqRename].Add(1)
	return c.RawFileSystem.Rename(cancel, in, oldName, newName)
}

func (c *reqCounter) Link(cancel <-chan struct{}, in *fuse.LinkIn, name string, out *fuse.EntryOut) fuse.Status {
	c.n[rqLink].Add(1)
	return c.RawFileSystem.Link(cancel, in, name, out)
}

func (c *reqCounter) Symlink(cancel <-chan struct{}, h *fuse.InHeader, target, name string, out *fuse.EntryOut) fuse.Status {
	c.n[rqSymlink].Add(1)
	return c.RawFileSystem.Symlink(cancel, h, target, name, out)
}

func (c *reqCounter) Readlink(cancel <-chan struct{}, h *fuse.InHeader) ([]byte, fuse.Status) {
	c.n[rqReadlink].Add(1)
	return c.RawFileSystem.Readlink(cancel, h)
}

func (c *reqCounter) Access(cancel <-chan struct{}, in *fuse.AccessIn) fuse.Status {
	c.n[rqAccess].Add(1)
	return c.RawFileSystem.Access(cancel, in)
}

func (c *reqCounter) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	c.n[rqGetxattr].Add(1)
	return c.RawFileSystem.GetXAttr(cancel, h, attr, dest)
}

func (c *reqCounter) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	c.n[rqListxattr].Add(1)
	return c.RawFileSystem.ListXAttr(cancel, h, dest)
}

func (c *reqCounter) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	c.n[rqSetxattr].Add(1)
	return c.RawFileSystem.SetXAttr(cancel, in, attr, data)
}

func (c *reqCounter) RemoveXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string) fuse.Status {
	c.n[rqRemovexattr].Add(1)
	return c.RawFileSystem.RemoveXAttr(cancel, h, attr)
}

func (c *reqCounter) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	c.n[rqCreate].Add(1)
	return c.RawFileSystem.Create(cancel, in, name, out)
}

func (c *reqCounter) Tmpfile(cancel <-chan struct{}, in *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	c.n[rqTmpfile].Add(1)
	return c.RawFileSystem.Tmpfile(cancel, in, out)
}

func (c *reqCounter) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	c.n[rqOpen].Add(1)
	return c.RawFileSystem.Open(cancel, in, out)
}

func (c *reqCounter) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	c.n[rqRead].Add(1)
	return c.RawFileSystem.Read(cancel, in, buf)
}

func (c *reqCounter) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	c.n[rqLseek].Add(1)
	return c.RawFileSystem.Lseek(cancel, in, out)
}

func (c *reqCounter) GetLk(cancel <-chan struct{}, in *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	c.n[rqGetlk].Add(1)
	return c.RawFileSystem.GetLk(cancel, in, out)
}

func (c *reqCounter) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	c.n[rqSetlk].Add(1)
	return c.RawFileSystem.SetLk(cancel, in)
}

func (c *reqCounter) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	c.n[rqSetlkw].Add(1)
	return c.RawFileSystem.SetLkw(cancel, in)
}

func (c *reqCounter) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	c.n[rqRelease].Add(1)
	c.RawFileSystem.Release(cancel, in)
}

func (c *reqCounter) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	c.n[rqWrite].Add(1)
	return c.RawFileSystem.Write(cancel, in, data)
}

func (c *reqCounter) Writev(cancel <-chan struct{}, in *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	c.n[rqWrite].Add(1)
	return c.RawFileSystem.Writev(cancel, in, data)
}

func (c *reqCounter) CopyFileRange(cancel <-chan struct{}, in *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	c.n[rqCopyFileRange].Add(1)
	return c.RawFileSystem.CopyFileRange(cancel, in)
}

func (c *reqCounter) Ioctl(cancel <-chan struct{}, in *fuse.IoctlIn, inbuf []byte, out *fuse.IoctlOut, outbuf []byte) fuse.Status {
	c.n[rqIoctl].Add(1)
	return c.RawFileSystem.Ioctl(cancel, in, inbuf, out, outbuf)
}

func (c *reqCounter) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	c.n[rqFlush].Add(1)
	return c.RawFileSystem.Flush(cancel, in)
}

func (c *reqCounter) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	c.n[rqFsync].Add(1)
	return c.RawFileSystem.Fsync(cancel, in)
}

func (c *reqCounter) Fallocate(cancel <-chan struct{}, in *fuse.FallocateIn) fuse.Status {
	c.n[rqFallocate].Add(1)
	return c.RawFileSystem.Fallocate(cancel, in)
}

func (c *reqCounter) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	c.n[rqOpendir].Add(1)
	return c.RawFileSystem.OpenDir(cancel, in, out)
}

func (c *reqCounter) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	c.n[rqReaddir].Add(1)
	return c.RawFileSystem.ReadDir(cancel, in, out)
}

func (c *reqCounter) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	c.n[rqReaddirplus].Add(1)
	return c.RawFileSystem.ReadDirPlus(cancel, in, out)
}

func (c *reqCounter) ReleaseDir(in *fuse.ReleaseIn) {
	c.n[rqReleasedir].Add(1)
	c.RawFileSystem.ReleaseDir(in)
}

func (c *reqCounter) FsyncDir(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	c.n[rqFsyncdir].Add(1)
	return c.RawFileSystem.FsyncDir(cancel, in)
}

func (c *reqCounter) StatFs(cancel <-chan struct{}, h *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	c.n[rqStatfs].Add(1)
	return c.RawFileSystem.StatFs(cancel, h, out)
}

func (c *reqCounter) Statx(cancel <-chan struct{}, in *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	c.n[rqStatx].Add(1)
	return c.RawFileSystem.Statx(cancel, in, out)
}

// mountCounted mounts root at mnt as fs.Mount does, with the requests
// counted, and unmounts it when the benchmark ends.
func mountCounted(b *testing.B, mnt string, root fs.InodeEmbedder, opts *fs.Options) (*fuse.Server, *reqCounter) {
	b.Helper()
	rc := &reqCounter{RawFileSystem: fs.NewNodeFS(root, opts)}
	server, err := fuse.NewServer(rc, mnt, &opts.MountOptions)
	if err != nil {
		b.Fatalf("mount: %v", err)
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		b.Fatalf("mount: %v", err)
	}
	return server, rc
}

func unmountBench(b *testing.B, mnt string, server *fuse.Server) {
	if err := mountutil.Unmount(mnt, 10*time.Second, true); err != nil && !errors.Is(err, mountutil.ErrDetached) {
		b.Errorf("unmount %s: %v", mnt, err)
	}
	server.Wait()
}

// notifyfsTarget is an in-process notifyfs wired as `notifyfs mount`
// runs it: the bus with its journal, the socket server, the file system
// with the default options.
type notifyfsTarget struct {
	benchTarget
	sock string
}

func newNotifyfsTarget(b *testing.B) *notifyfsTarget {
	b.Helper()
	requireFuse(b)
	dir := b.TempDir()
	src, mnt := filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	t := &notifyfsTarget{benchTarget: benchTarget{dir: mnt}, sock: filepath.Join(dir, "sock")}
	for _, d := range []string{src, mnt} {
		if err := unix.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	d, err := daemon.Start(daemon.Config{
		Source: src, MountPoint: mnt, Journal: filepath.Join(dir, "journal"),
		FS:         fusefs.DefaultOptions(true),
		Socket:     subscribers.Options{SocketPath: t.sock},
		Underneath: kqshim.Options{Backend: "off"},
		Logger:     log.New(io.Discard, "", 0),
		Instrument: func(raw fuse.RawFileSystem) fuse.RawFileSystem {
			t.rc = &reqCounter{RawFileSystem: raw}
			return t.rc
		},
	})
	if err != nil {
		b.Fatalf("mount: %v", err)
	}
	b.Cleanup(func() {
		if err := d.Close(); err != nil {
			b.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return t
}

// newLoopbackTarget mounts go-fuse's own loopback file system
// (fs.NewLoopbackRoot) with the mount options notifyfs mounts with, less
// HANDLE_KILLPRIV_V2.
func newLoopbackTarget(b *testing.B) *benchTarget {
	b.Helper()
	requireFuse(b)
	dir := b.TempDir()
	src, mnt := filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	for _, d := range []string{src, mnt} {
		if err := unix.Mkdir(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	nfs, err := fusefs.New(src, eventbus.New(eventbus.Options{}), fusefs.DefaultOptions(true))
	if err != nil {
		b.Fatal(err)
	}
	opts := nfs.MountOptions()
	nfs.Close()
	et, at, nt := *opts.EntryTimeout, *opts.AttrTimeout, *opts.NegativeTimeout
	opts.EntryTimeout, opts.AttrTimeout, opts.NegativeTimeout = &et, &at, &nt
	opts.RootStableAttr = nil // the loopback numbers its root itself
	opts.MountOptions.Name = "loopback"
	// HANDLE_KILLPRIV_V2 leaves clearing set-id bits and capabilities on
	// write to the daemon; go-fuse's loopback does not do that, so a plain
	// loopback cannot offer it.
	opts.MountOptions.ExtraCapabilities &^= fuse.CAP_HANDLE_KILLPRIV_V2
	root, err := fs.NewLoopbackRoot(src)
	if err != nil {
		b.Fatal(err)
	}
	server, rc := mountCounted(b, mnt, root, opts)
	b.Cleanup(func() { unmountBench(b, mnt, server) })
	return &benchTarget{dir: mnt, rc: rc}
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
		t.startTimer(b)
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
		t.startTimer(b)
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
		t.refreshNames(b, files, "")
		t.startTimer(b)
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
		t.refreshNames(b, files, "")
		t.startTimer(b)
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
		t.startTimer(b)
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
