//go:build linux

package tests

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/cluster"
	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// clustered makes a mount one host of a share: SOURCE src (shared with
// the other hosts), its own journal, NATS at urls.
func clustered(src, urls, share, host, journal string) mountOption {
	return func(c *daemon.Config) {
		c.Source, c.Journal = src, journal
		c.Cluster = cluster.Options{URLs: strings.Split(urls, ","), Share: share, Host: host}
	}
}

// replicas sets the stream's replicas for a mount that may create it.
func replicas(n int) mountOption {
	return func(c *daemon.Config) { c.Cluster.Replicas = n }
}

// hosts mounts one SOURCE n times as hosts h1..hn of a share, each with
// the inotify watcher (which sees every other host's change on the
// shared tree, so echo absorption is at work) and a stream follower.
func hosts(t testing.TB, urls string, n int, opts ...mountOption) (src string, ms []*mount, ss []*hostStream) {
	t.Helper()
	src = filepath.Join(t.TempDir(), "share")
	must(t, os.Mkdir(src, 0o755))
	sources := make([]string, n)
	for i := range sources {
		sources[i] = src
	}
	ms, ss = hostsOn(t, urls, sources, append([]mountOption{underneath("inotify")}, opts...)...)
	return src, ms, ss
}

// hostsOn mounts sources[i] as host h(i+1) of a share: each its own
// view of one shared tree (one directory, or several network mounts of
// it). opts decide the watcher.
func hostsOn(t testing.TB, urls string, sources []string, opts ...mountOption) (ms []*mount, ss []*hostStream) {
	t.Helper()
	share := shareName(t)
	for i, src := range sources {
		// Without passthrough: under it a host's backing file is closed
		// by the kernel after the close_write went out, and another
		// host's watcher can read that close before the remote event is
		// applied — a known gap of the echo absorption (docs/cluster.md).
		o := append([]mountOption{noPassthrough, clustered(src, urls, share, fmt.Sprintf("h%d", i+1), journalDir(t)), logTo(t, fmt.Sprintf("h%d: ", i+1))}, opts...)
		m := newMount(t, o...)
		ms = append(ms, m)
		select {
		case <-m.d.Cluster().Up():
		case <-ctx(t).Done():
			t.Fatalf("h%d never joined the share", i+1)
		}
		ss = append(ss, followHost(t, m))
	}
	return ms, ss
}

// shareName is the share of a test: its name, which is a valid stream
// name token.
func shareName(t testing.TB) string {
	return strings.NewReplacer("/", "_", "Test", "").Replace(t.Name())
}

// logTo sends the daemon's notices to the test's log.
func logTo(t testing.TB, prefix string) mountOption {
	return func(c *daemon.Config) { c.Logger = log.New(testLog{t}, prefix, 0) }
}

type testLog struct{ t testing.TB }

func (w testLog) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// hostStream is everything one mount's stream delivered, in order.
type hostStream struct {
	t   testing.TB
	m   *mount
	c   *client.Client
	all []event.Event
}

func followHost(t testing.TB, m *mount) *hostStream {
	t.Helper()
	c, err := client.Dial(ctx(t), m.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Subscribe(ctx(t), client.SubscribeRequest{Types: eventbus.AllTypeNames()}); err != nil {
		t.Fatal(err)
	}
	return &hostStream{t: t, m: m, c: c}
}

// until reads events until ok says the stream has what it waits for.
func (s *hostStream) until(what string, ok func([]event.Event) bool) {
	s.t.Helper()
	deadline := time.After(60 * time.Second)
	for !ok(s.all) {
		select {
		case e, open := <-s.c.Events():
			if !open {
				s.t.Fatalf("%s: stream ended: %v", s.m.mnt, s.c.Err())
			}
			s.all = append(s.all, e)
		case <-deadline:
			for _, e := range s.all {
				if e.Origin == event.OriginBacking {
					s.t.Logf("second report: %s", e.AppendText(nil))
				}
			}
			if s.m == nil {
				s.t.Fatalf("waited 60s for %s; have %d events", what, len(s.all))
			}
			s.t.Fatalf("%s: waited 60s for %s; have %d events; %+v", s.m.mnt, what, len(s.all), *s.m.d.Cluster().Stats())
		}
	}
}

// sync reads everything published before a sync barrier (changes found
// underneath included).
func (s *hostStream) sync() {
	s.t.Helper()
	target, err := s.c.Sync(ctx(s.t))
	if err != nil {
		s.t.Fatal(err)
	}
	s.until(fmt.Sprintf("seq %d", target), func(evs []event.Event) bool {
		return target == 0 || len(evs) > 0 && evs[len(evs)-1].Seq >= target
	})
}

// sawDone reports whether the stream has every host's end marker.
func sawDone(hosts ...string) func([]event.Event) bool {
	return func(evs []event.Event) bool {
		for _, h := range hosts {
			if !slices.ContainsFunc(evs, func(e event.Event) bool {
				return e.Type == event.Mkdir && e.Path == h+"/done" && e.Host == h
			}) {
				return false
			}
		}
		return true
	}
}

// ofHost is the change events of one host in a stream, as
// "type path [<- from]" lines; origin tells what the stream said
// about where they were made.
func ofHost(evs []event.Event, host string) (lines []string, origins map[string]int) {
	origins = map[string]int{}
	for _, e := range evs {
		if e.Host != host || event.ControlTypes.Has(e.Type) || e.Type == event.Open || e.Type == event.Close {
			continue
		}
		l := e.Type.String() + " " + e.Path
		if e.From != "" {
			l += " <- " + e.From
		}
		lines = append(lines, l)
		origins[e.Origin.String()]++
	}
	return lines, origins
}

// treeOf lists a tree: every name with its type, mode and, for files,
// size, read through whatever path root is (a mount or SOURCE).
func treeOf(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		l := fmt.Sprintf("%s %v", rel, fi.Mode())
		if fi.Mode().IsRegular() {
			l += fmt.Sprintf(" %d", fi.Size())
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// journalDir is a directory for a daemon's journal: only the daemon's
// user may write it, as the journal demands (t.TempDir's directories are
// 0777 less the umask, which an in-process daemon sets to 0).
func journalDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "journal")
	must(t, os.Mkdir(dir, 0o700))
	must(t, os.Chmod(dir, 0o700))
	return dir
}
