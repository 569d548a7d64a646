//go:build linux

package tests

import (
	"bytes"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/fusefs"
	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/subscribers"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// pollOnlyOnSync makes the poll backend scan only when a sync asks, so
// that what a test sees follows from its syncs, not from timing.
func pollOnlyOnSync(c *daemon.Config) { c.Underneath.PollInterval = time.Hour }

// syncedEvents syncs c (which scans SOURCE first on a poll mount) and
// returns the events it delivered up to then, as "type path [<- from]".
func syncedEvents(t *testing.T, c *client.Client) []string {
	t.Helper()
	if _, err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		select {
		case e := <-c.Events():
			s := e.Type.String() + " " + e.Path
			if e.From != "" {
				s += " <- " + e.From
			}
			out = append(out, s)
		default:
			return out
		}
	}
}

func subscribed(t *testing.T, m *mount) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx(t), m.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Subscribe(ctx(t), client.SubscribeRequest{}); err != nil {
		t.Fatal(err)
	}
	return c
}

// A SOURCE on sshfs (another machine's share: changes are made on the
// server, no local kernel note tells of them).
func TestSSHFSNetworkSource(t *testing.T) {
	s := newSSHFS(t)
	server := func(p string) string { return filepath.Join(s.server, p) }

	// Finding 2: without birth times, an edit on the server is a write
	// and a rename a rename (were remove+create+write, remove+create).
	t.Run("identity", func(t *testing.T) {
		m := newMount(t, sourceAt(s.local), underneath("auto"), pollOnlyOnSync, noPassthrough)
		if b := m.d.Status().Underneath.Backend; b != "poll" {
			t.Fatalf("auto on sshfs chose %s, want poll", b)
		}
		c := subscribed(t, m)
		must(t, os.WriteFile(server("f"), []byte("v\n"), 0o644))
		if got := strings.Join(syncedEvents(t, c), "; "); got != "create f" {
			t.Fatalf("made on the server: %s", got)
		}
		f, err := os.OpenFile(server("f"), os.O_APPEND|os.O_WRONLY, 0)
		must(t, err)
		f.WriteString("v\n")
		f.Close()
		if got := strings.Join(syncedEvents(t, c), "; "); got != "write f" {
			t.Errorf("appended on the server: %s, want write f", got)
		}
		must(t, os.Rename(server("f"), server("g")))
		if got := strings.Join(syncedEvents(t, c), "; "); got != "rename g <- f" {
			t.Errorf("renamed on the server: %s, want rename g <- f", got)
		}
	})

	// Finding 3: an open revalidates against SOURCE, so a read is never
	// cut to a size the kernel cached — even with cache lifetimes of an
	// hour, the mount's and sshfs's — and a sync covers a create made on
	// the server.
	t.Run("close-to-open", func(t *testing.T) {
		longTTLs := func(c *daemon.Config) {
			c.FS.AttrTimeout, c.FS.EntryTimeout, c.TTLsChosen = time.Hour, time.Hour, true
		}
		m := newMount(t, sourceAt(s.local), underneath("auto"), pollOnlyOnSync, noPassthrough, longTTLs)
		c := subscribed(t, m)
		must(t, os.WriteFile(server("c"), []byte("aaaaa"), 0o644))
		if b, err := os.ReadFile(m.path("c")); err != nil || string(b) != "aaaaa" {
			t.Fatalf("first read: %q %v", b, err)
		}
		must(t, os.WriteFile(server("c"), []byte("bbbbbbbbbbbb"), 0o644))
		// As cp, mmap or any reader that sizes its read by fstat does.
		f, err := os.Open(m.path("c"))
		must(t, err)
		st, err := f.Stat()
		must(t, err)
		b := make([]byte, st.Size())
		n, _ := io.ReadFull(f, b)
		f.Close()
		if string(b[:n]) != "bbbbbbbbbbbb" {
			t.Errorf("open, fstat and read after the server's change: %q (size %d), want bbbbbbbbbbbb", b[:n], st.Size())
		}
		syncedEvents(t, c)
		must(t, os.WriteFile(server("made-there"), nil, 0o644))
		if got := syncedEvents(t, c); !contains(got, "create made-there") {
			t.Errorf("sync returned without the server's create: %v", got)
		}
	})

	// Finding 5: a kernel backend on a network SOURCE is refused, and
	// with --force accepted with a warning.
	t.Run("kernel-backend", func(t *testing.T) {
		dir := t.TempDir()
		d, err := daemon.Start(daemon.Config{
			Source: s.local, MountPoint: dir, Journal: "none", FS: fusefs.DefaultOptions(true),
			Socket:     subscribers.Options{SocketPath: filepath.Join(t.TempDir(), "sock")},
			Underneath: kqshim.Options{Backend: "inotify"}, Logger: log.New(io.Discard, "", 0),
		})
		if err == nil {
			d.Close()
			t.Fatal("inotify on sshfs was accepted without --force")
		}
		if !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "fuse") {
			t.Errorf("error does not say why and what to do: %v", err)
		}
		var logged lockedBuffer
		forced := func(c *daemon.Config) {
			c.Underneath.Force = true
			c.Logger = log.New(&logged, "", 0)
		}
		newMount(t, sourceAt(s.local), underneath("inotify"), forced, noPassthrough)
		if !strings.Contains(logged.String(), "warning") {
			t.Errorf("--force: no warning logged: %s", logged.String())
		}
	})
}

// lockedBuffer is a log destination the test may read while the
// daemon's goroutines write to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
