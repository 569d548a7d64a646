//go:build linux

package tests

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// Changes made underneath the mount, on SOURCE directly, by this test
// process; the daemon is the built binary, a process of its own, as in
// real use (fanotify tells the daemon's own changes by its pid).

// linuxUnderneath are the backends every test here runs against.
var linuxUnderneath = []string{"fanotify", "inotify", "poll"}

// stream is a subscription to every event of a mount, read up to syncs.
type stream struct {
	t testing.TB
	c *client.Client
}

// dialMount connects to the socket of the daemon serving mnt; the
// connection is closed when the test ends.
func dialMount(t testing.TB, mnt string) *client.Client {
	t.Helper()
	sock, err := mountutil.FindSocket(mnt)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial(ctx(t), sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func follow(t testing.TB, mnt string) *stream {
	t.Helper()
	c := dialMount(t, mnt)
	// Every type, so that every seq comes through and a sync's seq is
	// always reached.
	if _, err := c.Subscribe(ctx(t), client.SubscribeRequest{Types: eventbus.AllTypeNames()}); err != nil {
		t.Fatal(err)
	}
	return &stream{t: t, c: c}
}

// synced returns every event published before the sync, changes made
// underneath included (sync waits for the watcher).
func (s *stream) synced() []eventbus.Event {
	s.t.Helper()
	target, err := s.c.Sync(ctx(s.t))
	if err != nil {
		s.t.Fatal(err)
	}
	var out []eventbus.Event
	if target == 0 {
		return out
	}
	deadline := time.After(waitLimit)
	for {
		select {
		case e, ok := <-s.c.Events():
			if !ok {
				s.t.Fatalf("stream ended: %v", s.c.Err())
			}
			out = append(out, e)
			if e.Seq >= target {
				return out
			}
		case <-deadline:
			s.t.Fatalf("events up to %d did not come; got %v", target, summary(out))
		}
	}
}

// summary renders events as "type path [<- from] (origin)" with the
// opt-in and close_write events left out, which the steps do not count.
func summary(evs []eventbus.Event) string {
	var parts []string
	for _, e := range evs {
		if e.Type == eventbus.Open || e.Type == eventbus.Close || e.Type == eventbus.CloseWrite {
			continue
		}
		s := e.Type.String() + " " + e.Path
		if e.From != "" {
			s += " <- " + e.From
		}
		parts = append(parts, s+" ("+e.Origin.String()+")")
	}
	return strings.Join(parts, "; ")
}

func backingMount(t *testing.T, backend string, extra ...string) (src, mnt string) {
	t.Helper()
	return binMount(t, append([]string{"--underneath", backend}, extra...)...)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeAt writes data at offset 0 of an existing file with one write(2)
// and no truncation: exactly one data change.
func writeAt(t testing.TB, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	must(t, err)
	_, err = f.WriteString(data)
	must(t, err)
	must(t, f.Close())
}

// Every kind of change made on SOURCE directly arrives exactly once, as
// an event with origin backing, typed as precisely as the backend can.
func TestUnderneathEachChangeOnce(t *testing.T) {
	for _, backend := range linuxUnderneath {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			outside := filepath.Join(filepath.Dir(src), "outside")
			must(t, os.MkdirAll(filepath.Join(outside, "in"), 0o755))
			must(t, os.WriteFile(filepath.Join(outside, "in", "x"), nil, 0o644))
			s := follow(t, mnt)
			p := func(rel string) string { return filepath.Join(src, rel) }
			scan := backend == "poll"
			either := func(scanned, noted string) string {
				if scan {
					return scanned
				}
				return noted
			}
			steps := []struct {
				name string
				do   func()
				want string
			}{
				{"create", func() { must(t, os.WriteFile(p("f"), nil, 0o644)) }, "create f"},
				{"write", func() { writeAt(t, p("f"), "hello") }, "write f"},
				{"truncate", func() { must(t, os.Truncate(p("f"), 2)) }, "truncate f"},
				{"chmod", func() { must(t, os.Chmod(p("f"), 0o600)) }, "chmod f"},
				{"chown", func() { must(t, os.Chown(p("f"), 1, 2)) }, "chown f"},
				{"utimes", func() { must(t, os.Chtimes(p("f"), time.Unix(1e9, 0), time.Unix(1e9, 0))) }, "utimes f"},
				{"setxattr", func() { must(t, unix.Setxattr(p("f"), "user.k", []byte("v"), 0)) }, "setxattr f"},
				{"mkdir", func() { must(t, os.Mkdir(p("d"), 0o755)) }, "mkdir d"},
				{"create with data", func() { must(t, os.WriteFile(p("d/g"), []byte("g"), 0o644)) }, either("create d/g", "create d/g; write d/g")},
				{"mkfifo", func() { must(t, syscall.Mkfifo(p("d/fifo"), 0o644)) }, "mknod d/fifo"},
				{"symlink", func() { must(t, os.Symlink("g", p("d/ln"))) }, "symlink d/ln"},
				{"link", func() { must(t, os.Link(p("d/g"), p("d/hard"))) }, either("link d/hard <- d/g", "link d/hard")},
				{"rename", func() { must(t, os.Rename(p("f"), p("d/f2"))) }, "rename d/f2 <- f"},
				{"rename over", func() { must(t, os.Rename(p("d/f2"), p("d/g"))) }, "rename d/g <- d/f2"},
				{"rename dir", func() { must(t, os.Rename(p("d"), p("e"))) }, "rename e <- d"},
				{"remove", func() { must(t, os.Remove(p("e/ln"))) }, "remove e/ln"},
				{"move in", func() { must(t, os.Rename(filepath.Join(outside, "in"), p("e/in"))) }, "mkdir e/in; create e/in/x"},
				{"move out", func() { must(t, os.Rename(p("e/in"), filepath.Join(outside, "back"))) }, either("remove e/in/x; rmdir e/in", "rmdir e/in")},
				{"remove all", func() { must(t, os.RemoveAll(p("e"))) }, "remove e/hard; remove e/fifo; remove e/g; rmdir e"},
			}
			for _, st := range steps {
				st.do()
				evs := s.synced()
				got := summary(evs)
				want := withOrigin(st.want, "backing")
				if st.name == "remove all" {
					got, want = sortedParts(got), sortedParts(want)
				}
				if got != want {
					t.Errorf("%s: got  %s\n\twant %s", st.name, got, want)
				}
				for _, e := range evs {
					if e.Origin == eventbus.OriginBacking && backend == "fanotify" && int(e.Pid) != os.Getpid() {
						t.Errorf("%s: %s %s: pid %d, want this process %d", st.name, e.Type, e.Path, e.Pid, os.Getpid())
					}
				}
			}
		})
	}
}

// eachWriteMode runs f for each backend twice: with writes under kernel
// passthrough (the default) and through the daemon (--no-passthrough),
// each time with the mount flags extra.
func eachWriteMode(t *testing.T, backends []string, extra []string, f func(t *testing.T, backend string, extra []string)) {
	for _, backend := range backends {
		for _, mode := range []struct {
			name  string
			flags []string
		}{{"passthrough", nil}, {"requests", []string{"--no-passthrough"}}} {
			flags := append(slices.Clone(extra), mode.flags...)
			t.Run(backend+"/"+mode.name, func(t *testing.T) { f(t, backend, flags) })
		}
	}
}

func withOrigin(list, origin string) string {
	if list == "" {
		return ""
	}
	parts := strings.Split(list, "; ")
	for i := range parts {
		parts[i] += " (" + origin + ")"
	}
	return strings.Join(parts, "; ")
}

func sortedParts(s string) string {
	parts := strings.Split(s, "; ")
	sortStrings(parts)
	return strings.Join(parts, "; ")
}

func sortStrings(a []string) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// The same kinds of change made through the mount are reported once, by
// the mount, and never again by the watcher that sees them on SOURCE:
// not a single backing event. Writes are made under kernel passthrough
// (the default) and without it.
func TestUnderneathThroughMountIsSilent(t *testing.T) {
	eachWriteMode(t, linuxUnderneath, nil, func(t *testing.T, backend string, extra []string) {
		_, mnt := backingMount(t, backend, extra...)
		s := follow(t, mnt)
		p := func(rel string) string { return filepath.Join(mnt, rel) }
		must(t, os.WriteFile(p("f"), []byte("hello"), 0o644))
		writeAt(t, p("f"), "HE")
		must(t, os.WriteFile(p("f"), []byte("truncated and rewritten"), 0o644))
		big := make([]byte, 4<<20)
		must(t, os.WriteFile(p("big"), big, 0o644))
		must(t, os.Truncate(p("big"), 10))
		must(t, os.Chmod(p("f"), 0o600))
		must(t, os.Chown(p("f"), 1, 2))
		must(t, os.Chtimes(p("f"), time.Unix(1e9, 0), time.Unix(1e9, 0)))
		must(t, unix.Setxattr(p("f"), "user.k", []byte("v"), 0))
		must(t, unix.Removexattr(p("f"), "user.k"))
		must(t, os.Mkdir(p("d"), 0o755))
		must(t, syscall.Mkfifo(p("d/fifo"), 0o644))
		must(t, os.Symlink("f", p("d/ln")))
		must(t, os.Link(p("f"), p("d/hard")))
		must(t, os.Rename(p("f"), p("d/f2")))
		must(t, os.Rename(p("d/hard"), p("d/f2")))
		must(t, os.Rename(p("d"), p("e")))
		must(t, os.MkdirAll(p("e/x/y/z"), 0o755))
		must(t, os.WriteFile(p("e/x/y/z/deep"), []byte("deep"), 0o644))
		// A file kept open for writing across other changes.
		h, err := os.OpenFile(p("e/open"), os.O_CREATE|os.O_RDWR, 0o644)
		must(t, err)
		for i := 0; i < 50; i++ {
			_, err := h.WriteAt([]byte("chunk"), int64(i*5))
			must(t, err)
		}
		must(t, os.Rename(p("e/open"), p("e/open2")))
		_, err = h.WriteAt([]byte("after rename"), 0)
		must(t, err)
		must(t, h.Close())
		must(t, os.RemoveAll(p("e")))
		must(t, os.Remove(p("big")))
		evs := s.synced()
		var mount int
		for _, e := range evs {
			switch e.Origin {
			case eventbus.OriginBacking:
				t.Errorf("backing event for a change made through the mount: %s %s (from %q)", e.Type, e.Path, e.From)
			case eventbus.OriginMount:
				mount++
			}
		}
		if mount < 30 {
			t.Errorf("only %d mount events: %s", mount, summary(evs))
		}
	})
}

// A file's content, size and name changed underneath while the mount has
// them cached (kernel cache lifetimes of a minute, an open handle with
// cached pages): the next look through the mount sees the new state.
func TestUnderneathCachesStayTrue(t *testing.T) {
	eachWriteMode(t, []string{"fanotify", "inotify", "poll"}, []string{"--attr-timeout", "1m", "--entry-timeout", "1m", "--negative-timeout", "1m"}, func(t *testing.T, backend string, extra []string) {
		src, mnt := backingMount(t, backend, extra...)
		s := follow(t, mnt)
		sp := func(rel string) string { return filepath.Join(src, rel) }
		mp := func(rel string) string { return filepath.Join(mnt, rel) }
		must(t, os.WriteFile(sp("f"), []byte("aaaa"), 0o644))
		must(t, os.Mkdir(sp("d"), 0o755))
		s.synced()

		// Warm the kernel's caches through the mount.
		h, err := os.Open(mp("f"))
		must(t, err)
		defer h.Close()
		readAt(t, h, 4, "aaaa")
		statSize(t, mp("f"), 4)
		if _, err := os.Lstat(mp("missing")); !os.IsNotExist(err) {
			t.Fatalf("missing: %v", err)
		}
		if _, err := os.ReadDir(mp("d")); err != nil {
			t.Fatal(err)
		}

		// Same size, new bytes: only an invalidated page cache shows them.
		writeAt(t, sp("f"), "bbbb")
		s.synced()
		readAt(t, h, 4, "bbbb")

		// New size.
		must(t, os.WriteFile(sp("f"), []byte("cccccccc"), 0o644))
		s.synced()
		statSize(t, mp("f"), 8)
		readAt(t, h, 8, "cccccccc")

		// New mode.
		must(t, os.Chmod(sp("f"), 0o640))
		s.synced()
		if st, err := os.Lstat(mp("f")); err != nil || st.Mode().Perm() != 0o640 {
			t.Errorf("mode through the mount: %v %v", st.Mode(), err)
		}

		// A name that was missing appears; a name goes; a name moves.
		must(t, os.WriteFile(sp("missing"), []byte("here"), 0o644))
		must(t, os.Rename(sp("f"), sp("d/moved")))
		s.synced()
		if b, err := os.ReadFile(mp("missing")); err != nil || string(b) != "here" {
			t.Errorf("new name through the mount: %q %v", b, err)
		}
		if _, err := os.Lstat(mp("f")); !os.IsNotExist(err) {
			t.Errorf("old name still there through the mount: %v", err)
		}
		if b, err := os.ReadFile(mp("d/moved")); err != nil || string(b) != "cccccccc" {
			t.Errorf("moved file through the mount: %q %v", b, err)
		}
		names, err := os.ReadDir(mp("d"))
		if err != nil || len(names) != 1 || names[0].Name() != "moved" {
			t.Errorf("listing after the move: %v %v", names, err)
		}
		// The moved file is usable through its new name: the mount
		// resolves paths with what it was told.
		must(t, os.Chmod(mp("d/moved"), 0o600))
		if st, err := os.Lstat(sp("d/moved")); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("chmod through the moved name: %v %v", st, err)
		}
		must(t, os.RemoveAll(sp("d")))
		s.synced()
		if _, err := os.Lstat(mp("d")); !os.IsNotExist(err) {
			t.Errorf("removed directory still there through the mount: %v", err)
		}
	})
}

func readAt(t testing.TB, f *os.File, n int, want string) {
	t.Helper()
	buf := make([]byte, n)
	m, err := f.ReadAt(buf, 0)
	if err != nil && m != n {
		t.Fatalf("read: %v", err)
	}
	if string(buf[:m]) != want {
		t.Errorf("read through the mount: %q, want %q", buf[:m], want)
	}
}

func statSize(t testing.TB, path string, want int64) {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != want {
		t.Errorf("size through the mount: %d, want %d", st.Size(), want)
	}
}

// A SOURCE on a filesystem whose changes the local kernel may never hear
// of (here a FUSE mount, like sshfs; NFS and SMB alike) is polled by
// auto, and its changes arrive.
func TestUnderneathAutoPollsNetworkFilesystems(t *testing.T) {
	_, inner := binMount(t) // a FUSE filesystem to serve as SOURCE
	dir := t.TempDir()
	outer := filepath.Join(dir, "mnt")
	must(t, os.Mkdir(outer, 0o755))
	mustRun(t, "mount", "--journal", "none", "--poll-interval", "1h", inner, outer)
	t.Cleanup(func() { cleanupMount(t, outer) })
	s := follow(t, outer)
	st, err := s.c.Status(ctx(t))
	must(t, err)
	if st["backend"] != "poll" {
		t.Errorf("backend for a FUSE SOURCE: %v, want poll", st["backend"])
	}
	must(t, os.WriteFile(filepath.Join(inner, "made-below"), []byte("x"), 0o644))
	if got := summary(s.synced()); got != "create made-below (backing)" {
		t.Errorf("got %s", got)
	}
}
