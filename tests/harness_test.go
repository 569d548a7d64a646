//go:build linux

package tests

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/fusefs"
	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers"
)

// waitLimit bounds every wait for an event; reaching it fails the test.
const waitLimit = 20 * time.Second

// requireFuse skips (or, under CI, fails) when FUSE cannot be mounted.
func requireFuse(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root to mount FUSE without fusermount"
	} else if err := mountutil.CheckFuse(); err != nil {
		why = err.Error()
	}
	if why != "" {
		cannotRun(t, why)
	}
}

// cannotRun skips a test that a missing capability of this machine stops,
// or fails it when CI said that nothing may be skipped.
func cannotRun(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("NOTIFYFS_TEST_DISALLOW_SKIP") != "" {
		t.Fatalf("cannot run: %s (NOTIFYFS_TEST_DISALLOW_SKIP is set)", why)
	}
	t.Skip(why)
}

// mount is one in-process notifyfs daemon, started by the same code as
// `notifyfs mount` (internal/daemon), mounted at mnt over src, with its
// socket at sock and no journal.
type mount struct {
	src, mnt, sock string
	d              *daemon.Daemon
	bus            *eventbus.Bus
	passthrough    bool
}

// mountOption adjusts the daemon's configuration.
type mountOption func(*daemon.Config)

func noPassthrough(c *daemon.Config) { c.FS.NoPassthrough = true }

func writeInterval(d time.Duration) mountOption {
	return func(c *daemon.Config) { c.FS.WriteInterval = d }
}

// underneath starts the watcher of changes made on SOURCE directly with
// the given backend ("auto", "fanotify", "inotify", "poll", ...).
func underneath(backend string) mountOption {
	return func(c *daemon.Config) { c.Underneath.Backend = backend }
}

// newMount mounts a fresh SOURCE and unmounts it when the test ends.
func newMount(t testing.TB, opts ...mountOption) *mount {
	t.Helper()
	requireFuse(t)
	dir := t.TempDir()
	m := &mount{src: filepath.Join(dir, "src"), mnt: filepath.Join(dir, "mnt"), sock: filepath.Join(dir, "sock")}
	for _, d := range []string{m.src, m.mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := daemon.Config{
		Source: m.src, MountPoint: m.mnt, Journal: "none",
		FS:         fusefs.DefaultOptions(true),
		Socket:     subscribers.Options{SocketPath: m.sock},
		Underneath: kqshim.Options{Backend: "off"},
	}
	for _, f := range opts {
		f(&cfg)
	}
	m.src = cfg.Source // an option may share another SOURCE
	d, err := daemon.Start(cfg)
	if err != nil {
		t.Fatalf("mount: %v", err)
	}
	m.d, m.bus, m.passthrough = d, d.Bus(), d.Passthrough()
	t.Cleanup(func() { m.close(t) })
	return m
}

// close unmounts (reporting a mount that would not go) and waits for the
// daemon to shut down.
func (m *mount) close(t testing.TB) {
	if m.d == nil {
		return
	}
	if err := mountutil.Unmount(m.mnt, 10*time.Second, true); err != nil && !errors.Is(err, mountutil.ErrDetached) {
		t.Errorf("unmount %s: %v", m.mnt, err)
	}
	if err := m.d.Wait(); err != nil {
		t.Errorf("daemon of %s: %v", m.mnt, err)
	}
	m.d = nil
}

// path returns the mount path of a relative name.
func (m *mount) path(rel string) string { return filepath.Join(m.mnt, rel) }

// srcPath returns the SOURCE path of a relative name.
func (m *mount) srcPath(rel string) string { return filepath.Join(m.src, rel) }

// recorder collects the events of one in-process subscription.
type recorder struct {
	t   testing.TB
	bus *eventbus.Bus
	sub *eventbus.Subscription
	buf []*eventbus.Event
}

// record subscribes to everything (types: defaults plus any named).
func (m *mount) record(t testing.TB, types ...eventbus.Type) *recorder {
	t.Helper()
	f := eventbus.Filter{}
	if len(types) > 0 {
		f.Types = eventbus.DefaultTypes | eventbus.MaskOf(types...)
	}
	sub, err := m.bus.Subscribe(t.Name(), f, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sub.Close)
	return &recorder{t: t, bus: m.bus, sub: sub}
}

// synced returns every event published up to now (as a sync would) and
// forgets them.
func (r *recorder) synced() []*eventbus.Event {
	r.t.Helper()
	target := r.bus.Seq()
	deadline := time.After(waitLimit)
	var out []*eventbus.Event
	for {
		var pos uint64
		r.buf, pos, _ = r.sub.Take(r.buf[:0], 4096)
		out = append(out, r.buf...)
		if pos >= target {
			return out
		}
		select {
		case <-r.sub.Ready():
		case <-deadline:
			r.t.Fatalf("events up to seq %d not delivered within %v", target, waitLimit)
		}
	}
}

// until returns events up to and including the first one that matches
// pred, waiting for it.
func (r *recorder) until(pred func(*eventbus.Event) bool) []*eventbus.Event {
	r.t.Helper()
	deadline := time.After(waitLimit)
	var out []*eventbus.Event
	for {
		r.buf, _, _ = r.sub.Take(r.buf[:0], 1)
		for _, e := range r.buf {
			out = append(out, e)
			if pred(e) {
				return out
			}
		}
		if len(r.buf) > 0 {
			continue
		}
		select {
		case <-r.sub.Ready():
		case <-deadline:
			r.t.Fatalf("awaited event did not come within %v; got %s", waitLimit, describe(out))
		}
	}
}

func isType(t eventbus.Type, path string) func(*eventbus.Event) bool {
	return func(e *eventbus.Event) bool { return e.Type == t && e.Path == path }
}

func describe(evs []*eventbus.Event) string {
	var b strings.Builder
	for _, e := range evs {
		b.WriteString("\n\t")
		b.Write(e.AppendJSON(nil))
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}

// want is the expected shape of an event; empty fields are not checked
// except Type and Path.
type want struct {
	Type     eventbus.Type
	Path     string
	From     string
	Target   string
	Xattr    string
	IsDir    bool
	LastLink bool
	Replaced bool
	Exchange bool
	Size     int64 // checked when >= 0 and HasSize
	HasSize  bool
}

// expect checks that got is exactly the wanted events, each made by this
// process as uid 0 through the mount.
func expect(t testing.TB, got []*eventbus.Event, pid int, wants ...want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d events, want %d:%s", len(got), len(wants), describe(got))
	}
	for i, w := range wants {
		e := got[i]
		mismatch := func(field string, g, x any) {
			t.Errorf("event %d: %s = %v, want %v:%s", i, field, g, x, describe(got[i:i+1]))
		}
		if e.Type != w.Type {
			mismatch("type", e.Type, w.Type)
		}
		if e.Path != w.Path {
			mismatch("path", e.Path, w.Path)
		}
		if e.From != w.From {
			mismatch("from", e.From, w.From)
		}
		if e.Target != w.Target {
			mismatch("target", e.Target, w.Target)
		}
		if e.Xattr != w.Xattr {
			mismatch("xattr", e.Xattr, w.Xattr)
		}
		if e.IsDir != w.IsDir || e.LastLink != w.LastLink || e.Replaced != w.Replaced || e.Exchange != w.Exchange {
			mismatch("flags(dir,last_link,replaced,exchange)",
				fmt.Sprint(e.IsDir, e.LastLink, e.Replaced, e.Exchange),
				fmt.Sprint(w.IsDir, w.LastLink, w.Replaced, w.Exchange))
		}
		if w.HasSize && e.Size != w.Size {
			mismatch("size", e.Size, w.Size)
		}
		if pid != 0 && int(e.Pid) != pid {
			mismatch("pid", e.Pid, pid)
		}
		if e.Uid != uint32(os.Geteuid()) {
			mismatch("uid", e.Uid, os.Geteuid())
		}
		if e.Origin != eventbus.OriginMount {
			mismatch("origin", e.Origin, eventbus.OriginMount)
		}
		if e.Seq == 0 || (i > 0 && e.Seq <= got[i-1].Seq) {
			mismatch("seq", e.Seq, "increasing")
		}
	}
}

// ctx returns a context bounded by waitLimit.
func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitLimit)
	t.Cleanup(cancel)
	return c
}

// TestHarnessUnderneath: a test can ask for the watcher of changes made
// on SOURCE directly, started in-process as `notifyfs mount` starts it.
func TestHarnessUnderneath(t *testing.T) {
	m := newMount(t, underneath("auto"))
	r := m.record(t)
	// Another process: fanotify takes changes by the daemon's own process
	// (this one) for the mount's.
	if out, err := exec.Command("touch", m.srcPath("made-underneath")).CombinedOutput(); err != nil {
		t.Fatalf("touch: %v %s", err, out)
	}
	evs := r.until(isType(eventbus.Create, "made-underneath"))
	if e := evs[len(evs)-1]; e.Origin != eventbus.OriginBacking {
		t.Errorf("origin %v, want backing:%s", e.Origin, describe(evs))
	}
	if st := m.d.Status(); st.Underneath == nil || st.Backend == "off" || st.Backend != st.Underneath.Backend {
		t.Errorf("status: backend %q, underneath %+v", st.Backend, st.Underneath)
	}
}

// TestUnmountReleasesSource: once the daemon has stopped, the process
// holds no descriptor of SOURCE — the directory pins of nodes the kernel
// still knew at unmount (it forgets them without telling) included; one
// left open kept a network SOURCE (sshfs) busy after the mount was gone.
func TestUnmountReleasesSource(t *testing.T) {
	m := newMount(t)
	must(t, os.MkdirAll(m.path("a/b/c"), 0o755))
	for _, d := range []string{"a", "a/b", "a/b/c"} {
		must(t, os.WriteFile(m.path(d+"/f"), nil, 0o644)) // resolves from d's pin
	}
	if m.d.Status().PinnedDirs == 0 {
		t.Fatal("no directory pinned: the test tests nothing")
	}
	m.close(t)
	ents, err := os.ReadDir("/proc/self/fd")
	must(t, err)
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, m.src) {
			t.Errorf("fd %s still open on %s", e.Name(), l)
		}
	}
}
