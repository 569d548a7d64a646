//go:build linux

package tests

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// Each test performs one kind of operation through a real mount and
// checks the exact events it produced: type, path, from, flags, pid of
// the process that did it, uid, origin — and that nothing else came.

// closeWrite waits for the close_write of rel that follows a close.
func closeWrite(r *recorder, rel string) []*eventbus.Event {
	return r.until(isType(eventbus.CloseWrite, rel))
}

func writeFile(t *testing.T, p string, data string, flag int) {
	t.Helper()
	f, err := os.OpenFile(p, flag, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if data != "" {
		if _, err := f.WriteString(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

var me = os.Getpid()

func TestEventCreate(t *testing.T) {
	m := newMount(t)
	r := m.record(t)
	writeFile(t, m.path("new"), "", os.O_CREATE|os.O_EXCL|os.O_WRONLY)
	expect(t, closeWrite(r, "new"), me,
		want{Type: eventbus.Create, Path: "new", HasSize: true},
		want{Type: eventbus.CloseWrite, Path: "new", HasSize: true})
	expect(t, r.synced(), me)
}

func TestEventWrite(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []mountOption
	}{{"passthrough", nil}, {"requests", []mountOption{noPassthrough}}} {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			if err := os.WriteFile(m.srcPath("f"), []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			r := m.record(t)
			writeFile(t, m.path("f"), "hello world", os.O_WRONLY)
			expect(t, closeWrite(r, "f"), me,
				want{Type: eventbus.Write, Path: "f", Size: 11, HasSize: true},
				want{Type: eventbus.CloseWrite, Path: "f", Size: 11, HasSize: true})
			expect(t, r.synced(), me)
			got, err := os.ReadFile(m.srcPath("f"))
			if err != nil || string(got) != "hello world" {
				t.Fatalf("SOURCE has %q, %v", got, err)
			}
		})
	}
}

// A burst of writes is folded into one event per write interval; the
// count says how many were folded, and every write is accounted for.
func TestEventWriteBurstFolded(t *testing.T) {
	m := newMount(t, noPassthrough, writeInterval(time.Hour))
	r := m.record(t)
	f, err := os.Create(m.path("log"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, err := f.WriteString("line\n"); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	evs := closeWrite(r, "log")
	if len(evs) != 4 {
		t.Fatalf("want create, write, write(x99), close_write; got%s", describe(evs))
	}
	if evs[1].Type != eventbus.Write || evs[1].Count > 1 || evs[2].Type != eventbus.Write || evs[2].Count != 99 || evs[2].Size != 500 {
		t.Fatalf("writes not folded as expected:%s", describe(evs))
	}
}

func TestEventTruncateOnOpen(t *testing.T) {
	m := newMount(t)
	os.WriteFile(m.srcPath("f"), []byte("0123456789"), 0o644)
	r := m.record(t)
	writeFile(t, m.path("f"), "", os.O_WRONLY|os.O_TRUNC)
	expect(t, closeWrite(r, "f"), me,
		want{Type: eventbus.Truncate, Path: "f", Size: 0, HasSize: true},
		want{Type: eventbus.CloseWrite, Path: "f", Size: 0, HasSize: true})
}

func TestEventNamespace(t *testing.T) {
	m := newMount(t)
	os.WriteFile(m.srcPath("a"), []byte("x"), 0o644)
	os.WriteFile(m.srcPath("b"), []byte("yy"), 0o644)
	os.Mkdir(m.srcPath("d"), 0o755)

	steps := []struct {
		name string
		do   func() error
		want []want
	}{
		{"mkdir", func() error { return os.Mkdir(m.path("d/sub"), 0o700) },
			[]want{{Type: eventbus.Mkdir, Path: "d/sub", IsDir: true}}},
		{"mknod-fifo", func() error { return unix.Mkfifo(m.path("d/fifo"), 0o600) },
			[]want{{Type: eventbus.Mknod, Path: "d/fifo"}}},
		{"symlink", func() error { return os.Symlink("../a", m.path("d/ln")) },
			[]want{{Type: eventbus.Symlink, Path: "d/ln", Target: "../a"}}},
		{"link", func() error { return os.Link(m.path("a"), m.path("d/hard")) },
			[]want{{Type: eventbus.Link, Path: "d/hard", From: "a"}}},
		{"remove-not-last", func() error { return os.Remove(m.path("d/hard")) },
			[]want{{Type: eventbus.Remove, Path: "d/hard"}}},
		{"rename", func() error { return os.Rename(m.path("a"), m.path("d/a2")) },
			[]want{{Type: eventbus.Rename, Path: "d/a2", From: "a"}}},
		{"rename-replace", func() error { return os.Rename(m.path("b"), m.path("d/a2")) },
			[]want{{Type: eventbus.Rename, Path: "d/a2", From: "b", Replaced: true}}},
		{"rename-dir", func() error { return os.Rename(m.path("d/sub"), m.path("sub2")) },
			[]want{{Type: eventbus.Rename, Path: "sub2", From: "d/sub", IsDir: true}}},
		{"rename-noreplace-fails", func() error {
			os.WriteFile(m.path("c"), nil, 0o644)
			err := unix.Renameat2(unix.AT_FDCWD, m.path("c"), unix.AT_FDCWD, m.path("d/a2"), unix.RENAME_NOREPLACE)
			if err != unix.EEXIST {
				t.Errorf("RENAME_NOREPLACE onto existing: %v, want EEXIST", err)
			}
			return nil
		}, []want{{Type: eventbus.Create, Path: "c"}, {Type: eventbus.CloseWrite, Path: "c"}}},
		{"rename-exchange", func() error {
			return unix.Renameat2(unix.AT_FDCWD, m.path("c"), unix.AT_FDCWD, m.path("d/a2"), unix.RENAME_EXCHANGE)
		}, []want{{Type: eventbus.Rename, Path: "d/a2", From: "c", Exchange: true}}},
		{"remove-last", func() error { return os.Remove(m.path("c")) },
			[]want{{Type: eventbus.Remove, Path: "c", LastLink: true}}},
		{"rmdir", func() error { return os.Remove(m.path("sub2")) },
			[]want{{Type: eventbus.Rmdir, Path: "sub2", IsDir: true}}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := m.record(t)
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			got := r.synced()
			// close_write follows close(2) asynchronously (RELEASE).
			if last := s.want[len(s.want)-1]; last.Type == eventbus.CloseWrite && len(got) < len(s.want) {
				got = append(got, r.until(isType(eventbus.CloseWrite, last.Path))...)
			}
			expect(t, got, me, s.want...)
		})
	}
}

func TestEventMetadata(t *testing.T) {
	m := newMount(t)
	os.WriteFile(m.srcPath("f"), []byte("0123456789"), 0o644)
	steps := []struct {
		name string
		do   func() error
		want want
	}{
		{"chmod", func() error { return os.Chmod(m.path("f"), 0o600) }, want{Type: eventbus.Chmod, Path: "f"}},
		{"chown", func() error { return os.Chown(m.path("f"), 1000, 1000) }, want{Type: eventbus.Chown, Path: "f"}},
		{"truncate", func() error { return os.Truncate(m.path("f"), 3) }, want{Type: eventbus.Truncate, Path: "f", Size: 3, HasSize: true}},
		{"utimes", func() error {
			ts := time.Unix(1e9, 0)
			return os.Chtimes(m.path("f"), ts, ts)
		}, want{Type: eventbus.Utimes, Path: "f"}},
		{"setxattr", func() error { return unix.Setxattr(m.path("f"), "user.color", []byte("red"), 0) }, want{Type: eventbus.Setxattr, Path: "f", Xattr: "user.color"}},
		{"removexattr", func() error { return unix.Removexattr(m.path("f"), "user.color") }, want{Type: eventbus.Removexattr, Path: "f", Xattr: "user.color"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := m.record(t)
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			expect(t, r.synced(), me, s.want)
		})
	}
	var st unix.Stat_t
	unix.Stat(m.srcPath("f"), &st)
	if st.Mode&0o777 != 0o600 || st.Uid != 1000 || st.Size != 3 || st.Mtim.Sec != 1e9 {
		t.Errorf("SOURCE not changed as asked: mode %o uid %d size %d mtime %d", st.Mode&0o777, st.Uid, st.Size, st.Mtim.Sec)
	}
}

func TestEventFallocateAndCopyRange(t *testing.T) {
	m := newMount(t, noPassthrough)
	os.WriteFile(m.srcPath("in"), []byte("copy me please"), 0o644)
	r := m.record(t)
	out, err := os.OpenFile(m.path("out"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(out.Fd()), 0, 0, 4096); err != nil {
		t.Fatalf("fallocate: %v", err)
	}
	in, err := os.Open(m.path("in"))
	if err != nil {
		t.Fatal(err)
	}
	n, err := unix.CopyFileRange(int(in.Fd()), nil, int(out.Fd()), nil, 14, 0)
	if err != nil || n != 14 {
		t.Fatalf("copy_file_range: %d, %v", n, err)
	}
	in.Close()
	out.Close()
	expect(t, closeWrite(r, "out"), me,
		want{Type: eventbus.Create, Path: "out"},
		want{Type: eventbus.Write, Path: "out", Size: 4096, HasSize: true},
		want{Type: eventbus.Write, Path: "out", Size: 4096, HasSize: true},
		want{Type: eventbus.CloseWrite, Path: "out", Size: 4096, HasSize: true})
}

// open and close are delivered only to a subscription that names them.
func TestEventOpenCloseOptIn(t *testing.T) {
	m := newMount(t)
	os.WriteFile(m.srcPath("f"), []byte("x"), 0o644)
	plain := m.record(t)
	opt := m.record(t, eventbus.Open, eventbus.Close)
	b, err := os.ReadFile(m.path("f"))
	if err != nil || string(b) != "x" {
		t.Fatal(b, err)
	}
	expect(t, opt.until(isType(eventbus.Close, "f")), me,
		want{Type: eventbus.Open, Path: "f"}, want{Type: eventbus.Close, Path: "f"})
	expect(t, plain.synced(), me)
}

// Another process's change is attributed to that process, not to the
// thread FUSE reports nor to the daemon.
func TestEventAttributedToProcess(t *testing.T) {
	m := newMount(t)
	r := m.record(t)
	cmd := exec.Command("/bin/sh", "-c", "echo hello > "+m.path("by-sh"))
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	evs := closeWrite(r, "by-sh")
	expect(t, evs, 0,
		want{Type: eventbus.Create, Path: "by-sh"},
		want{Type: eventbus.Write, Path: "by-sh", Size: 6, HasSize: true},
		want{Type: eventbus.CloseWrite, Path: "by-sh", Size: 6, HasSize: true})
	for _, e := range evs {
		if int(e.Pid) != pid || e.Comm != "sh" {
			t.Errorf("%s attributed to pid %d comm %q, want %d sh", e.Type, e.Pid, e.Comm, pid)
		}
	}
}

// Writes folded into a pending event are reported before any later
// change to the same file: per-path order is the order of operations.
func TestEventOrderPendingWriteBeforeMetadata(t *testing.T) {
	m := newMount(t, noPassthrough, writeInterval(time.Hour))
	os.WriteFile(m.srcPath("f"), nil, 0o644)
	f, err := os.OpenFile(m.path("f"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := m.record(t)
	f.WriteString("a") // reported at once: first of a burst
	f.WriteString("b") // folded, pending
	if err := os.Chmod(m.path("f"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.WriteString("c") // folded, pending
	if err := unix.Setxattr(m.path("f"), "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	expect(t, r.synced(), me,
		want{Type: eventbus.Write, Path: "f"},
		want{Type: eventbus.Write, Path: "f"},
		want{Type: eventbus.Chmod, Path: "f"},
		want{Type: eventbus.Write, Path: "f"},
		want{Type: eventbus.Setxattr, Path: "f", Xattr: "user.k"})
}

// A file unlinked while open keeps working through its handle, and its
// events keep the last name it had.
func TestEventUnlinkedOpenFile(t *testing.T) {
	m := newMount(t)
	f, err := os.Create(m.path("gone"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Remove(m.path("gone")); err != nil {
		t.Fatal(err)
	}
	r := m.record(t)
	if err := f.Truncate(5); err != nil {
		t.Fatalf("ftruncate: %v", err)
	}
	if err := f.Chmod(0o600); err != nil {
		t.Fatalf("fchmod: %v", err)
	}
	expect(t, r.synced(), me,
		want{Type: eventbus.Truncate, Path: "gone", Size: 5, HasSize: true},
		want{Type: eventbus.Chmod, Path: "gone"})
}

// A process that execs keeps its pid and changes its name; the event
// names the program that made the change.
func TestEventCommAfterExec(t *testing.T) {
	m := newMount(t)
	r := m.record(t)
	cmd := exec.Command("/bin/sh", "-c", "echo x > "+m.path("f")+"; exec mv "+m.path("f")+" "+m.path("g"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	evs := r.until(isType(eventbus.Rename, "g"))
	create, rename := evs[0], evs[len(evs)-1]
	if create.Comm != "sh" || rename.Comm != "mv" || create.Pid != rename.Pid || int(rename.Pid) != cmd.Process.Pid {
		t.Errorf("create by %d %q, rename by %d %q; want sh then mv, both pid %d", create.Pid, create.Comm, rename.Pid, rename.Comm, cmd.Process.Pid)
	}
}
