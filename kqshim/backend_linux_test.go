package kqshim

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// collector gathers what a watcher publishes.
type collector struct {
	mu  sync.Mutex
	evs []*eventbus.Event
}

func (c *collector) publish(ev *eventbus.Event) {
	c.mu.Lock()
	c.evs = append(c.evs, ev)
	c.mu.Unlock()
}

// take returns what was published since the last take, as "type path
// [<- from]" lines.
func (c *collector) take() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := describe(c.evs)
	c.evs = nil
	return s
}

func startWatcher(t *testing.T, backend string, root string) (*Watcher, *collector) {
	t.Helper()
	c := &collector{}
	w, err := New(Options{Backend: backend, PollInterval: time.Hour}, Config{Source: root, Publish: c.publish, Logf: t.Logf})
	if err != nil {
		if os.Getenv("NOTIFYFS_TEST_DISALLOW_SKIP") != "" || backend != "fanotify" || os.Geteuid() == 0 {
			t.Fatalf("%s: %v", backend, err)
		}
		t.Skipf("%s: %v", backend, err)
	}
	t.Cleanup(func() { w.Close() })
	if w.Backend() != backend {
		t.Fatalf("asked for %s, got %s", backend, w.Backend())
	}
	return w, c
}

func flush(t *testing.T, w *Watcher) {
	t.Helper()
	if !w.Flush(10 * time.Second) {
		t.Fatal("flush timed out")
	}
}

var linuxBackends = []string{"fanotify", "inotify", "poll"}

// Every kind of change made directly on the tree arrives once, as what
// it was; each step is checked on its own so that a double or a miss is
// pinned to its cause.
func TestBackendsReportEachChangeOnce(t *testing.T) {
	for _, backend := range linuxBackends {
		t.Run(backend, func(t *testing.T) {
			base := t.TempDir()
			root := filepath.Join(base, "src")
			p := func(rel string) string { return filepath.Join(root, rel) }
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(os.MkdirAll(p("d"), 0o755))
			must(os.WriteFile(p("old"), []byte("x"), 0o644))
			w, c := startWatcher(t, backend, root)
			// Made by another process: a watcher drops its own process's
			// changes (fanotify), as the mount's own.
			sh := func(script string) func() {
				return func() {
					t.Helper()
					cmd := exec.Command("sh", "-ec", script)
					cmd.Dir = root
					out, err := cmd.CombinedOutput()
					if err != nil {
						t.Fatalf("%s: %v\n%s", script, err, out)
					}
				}
			}
			scanned := backend == "poll"
			ifScan := func(scan, notes string) string {
				if scanned {
					return scan
				}
				return notes
			}
			steps := []struct {
				do   func()
				want string
			}{
				{sh(": > f"), "create f"},
				{sh("printf hello 1<> f"), "write f"},
				{sh("chmod 600 f"), "chmod f"},
				{sh("chown 1:1 f"), "chown f"},
				{sh("touch -d 2001-01-01 f"), "utimes f"},
				{sh("mkdir d/sub"), "mkdir d/sub"},
				{sh("printf g > d/sub/g"), ifScan("create d/sub/g", "create d/sub/g; write d/sub/g")},
				{sh("mv f d/f2"), "rename d/f2 <- f"},
				{sh("mv d e"), "rename e <- d"},
				{sh("ln -s f2 e/ln"), "symlink e/ln"},
				{sh("ln e/f2 e/hard"), ifScan("link e/hard <- e/f2", "link e/hard")},
				{sh("rm e/hard"), "remove e/hard"},
				{sh("rm e/sub/g"), "remove e/sub/g"},
				{sh("rmdir e/sub"), "rmdir e/sub"},
				{sh("rm old"), "remove old"},
				{sh("mkdir -p ../outside." + backend + "/in && touch ../outside." + backend + "/in/x && mv ../outside." + backend + "/in e/in"),
					ifScan("mkdir e/in; create e/in/x", "mkdir e/in; create e/in/x")},
				// A scan cannot tell a move out from removals.
				{sh("mv e/in ../outside." + backend + "/back"), ifScan("remove e/in/x; rmdir e/in", "rmdir e/in")},
			}
			for _, s := range steps {
				s.do()
				flush(t, w)
				got := c.take()
				got = dropCloseWrite(got)
				if got != s.want {
					t.Errorf("%s: got %q, want %q", backend, got, s.want)
				}
			}
		})
	}
}

// newFile makes an empty file and returns what a scan records of it.
func newFile(t *testing.T, path string) entry {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	e, err := fsobj.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// dropCloseWrite: WriteFile closes what it wrote; the backends that see
// closes report it, which is right but not what these steps are about.
func dropCloseWrite(s string) string {
	var keep []string
	for _, part := range strings.Split(s, "; ") {
		if !strings.HasPrefix(part, "close_write ") {
			keep = append(keep, part)
		}
	}
	return strings.Join(keep, "; ")
}

// A change the mount announced is not reported; the same change made
// again once the announcement is spent is. The change is made by another
// process, as the kernel does for the mount under passthrough: a write
// and the close of the file written, announced for the file (fanotify
// knows every other change of the mount by the daemon's pid, and asks
// the ledger about these two kinds only).
func TestBackendsDropAnnouncedChanges(t *testing.T) {
	for _, backend := range linuxBackends {
		t.Run(backend, func(t *testing.T) {
			root := t.TempDir()
			f := filepath.Join(root, "f")
			st := newFile(t, f)
			w, c := startWatcher(t, backend, root)
			wrote := w.Expect(eventbus.Write, "f", "", st.Ino, uint64(st.Birth))
			closed := w.Expect(eventbus.CloseWrite, "f", "", st.Ino, uint64(st.Birth))
			if err := exec.Command("sh", "-c", "printf x >> "+f).Run(); err != nil {
				t.Fatal(err)
			}
			wrote()
			closed()
			flush(t, w)
			if got := c.take(); got != "" {
				t.Errorf("announced write reported: %q", got)
			}
			if err := exec.Command("sh", "-c", "printf y >> "+f).Run(); err != nil {
				t.Fatal(err)
			}
			flush(t, w)
			if got := dropCloseWrite(c.take()); got != "write f" {
				t.Errorf("unannounced write: got %q", got)
			}
		})
	}
}

// An announcement is about one object: a new file under the same name
// (a log rotated underneath while the mount keeps writing the old one)
// is not taken for it.
func TestBackendsAnnouncementIsAboutOneObject(t *testing.T) {
	for _, backend := range linuxBackends {
		t.Run(backend, func(t *testing.T) {
			root := t.TempDir()
			f := filepath.Join(root, "log")
			st := newFile(t, f)
			w, c := startWatcher(t, backend, root)
			defer w.Expect(eventbus.Write, "log", "", st.Ino, uint64(st.Birth))()
			if err := exec.Command("sh", "-c", "cd "+root+" && mv log log.1 && printf new > log").Run(); err != nil {
				t.Fatal(err)
			}
			flush(t, w)
			want := "rename log.1 <- log; create log; write log"
			if backend == "poll" {
				want = "rename log.1 <- log; create log"
			}
			if got := dropCloseWrite(c.take()); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// A change to SOURCE itself is reported, as the root ("").
func TestBackendsReportTheRoot(t *testing.T) {
	for _, backend := range linuxBackends {
		t.Run(backend, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "src")
			if err := os.Mkdir(root, 0o755); err != nil {
				t.Fatal(err)
			}
			w, c := startWatcher(t, backend, root)
			if err := exec.Command("chmod", "700", root).Run(); err != nil {
				t.Fatal(err)
			}
			flush(t, w)
			if got := c.take(); got != "chmod " {
				t.Errorf("got %q, want a chmod of the root", got)
			}
		})
	}
}
