package subscribers

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

// Finding 6: one subscribe with 256 long "**" globs made every event
// cost over a second under the bus lock. Filters over their limits are
// now refused with the limit code, and the connection stays usable.
func TestHostileSubscribeLines(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	c := dial(t, ts.path)
	long := "**/" + strings.Repeat("a/", 40) + "**/b" // 43 components
	var globs []string
	for range 256 {
		globs = append(globs, fmt.Sprintf("%q", long))
	}
	for name, fields := range map[string]string{
		"256 long globs":     `"globs":[` + strings.Join(globs, ",") + `]`,
		"one long glob":      `"globs":["` + long + `"]`,
		"a 5000-byte prefix": `"paths":["` + strings.Repeat("x", 5000) + `"]`,
		"too many in total":  `"globs":["` + strings.Repeat("a/", 31) + `b","` + strings.Repeat("a/", 31) + `b","` + strings.Repeat("a/", 31) + `b","` + strings.Repeat("a/", 31) + `b","c/d"]`,
	} {
		_, r := c.call("subscribe", fields)
		want := wire.CodeLimit
		if r["ok"] != false || r["code"] != want {
			t.Errorf("%s: reply %v, want code %s", name, r, want)
		}
	}
	// Within the limits: accepted.
	_, r := c.call("subscribe", `"globs":["`+strings.Repeat("a/", 31)+`b"]`)
	mustOK(t, r)
}

// The cap on connections in total: the one beyond it is refused in its
// hello with too_many_connections, and a slot frees when one closes.
func TestConnectionCap(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{MaxConns: 2})
	a := dial(t, ts.path)
	dial(t, ts.path)
	ended := connEnded(ts)
	nc, err := net.Dial("unix", ts.path)
	if err != nil {
		t.Fatal(err)
	}
	third := &tclient{t: t, nc: nc.(*net.UnixConn), br: bufio.NewReader(nc)}
	if h := third.msg(); h["ok"] != false || h["code"] != wire.CodeTooManyConns {
		t.Fatalf("third connection: %v", h)
	}
	nc.Close()
	waitConnEnd(t, ended) // the refused one
	a.nc.Close()
	waitConnEnd(t, ended)
	dial(t, ts.path)
}

// The per-peer filter: cache, invalidation, and renames across the
// boundary, against real directories (the peer is a uid that owns
// nothing here; no process of it is needed to decide).
func TestVisibility(t *testing.T) {
	root := t.TempDir()
	os.Chmod(root, 0o755)
	os.MkdirAll(filepath.Join(root, "pub/sub"), 0o755)
	os.MkdirAll(filepath.Join(root, "priv/sub"), 0o755)
	os.Chmod(filepath.Join(root, "priv"), 0o700)
	os.MkdirAll(filepath.Join(root, "grp"), 0o750)
	os.Chown(filepath.Join(root, "grp"), 0, 4242)
	v := newVisibility(root, 4343, []uint32{4343, 4242})
	see := func(e *event.Event) string {
		if x := v.filter(e); x != nil {
			return x.Type.String() + " " + x.Path + "<" + x.From
		}
		return "-"
	}
	for _, c := range []struct {
		e    event.Event
		want string
	}{
		{event.Event{Type: event.Create, Path: "pub/sub/f"}, "create pub/sub/f<"},
		{event.Event{Type: event.Create, Path: "priv/sub/f"}, "-"},
		{event.Event{Type: event.Create, Path: "priv"}, "create priv<"},
		{event.Event{Type: event.Create, Path: "grp/f"}, "create grp/f<"},
		{event.Event{Type: event.Rename, Path: "pub/in", From: "priv/sub/x"}, "create pub/in<"},
		{event.Event{Type: event.Rename, Path: "priv/out", From: "pub/x", IsDir: true}, "rmdir pub/x<"},
		{event.Event{Type: event.Rename, Path: "priv/b", From: "priv/a"}, "-"},
		{event.Event{Type: event.Link, Path: "priv/l", From: "pub/x"}, "-"},
		{event.Event{Type: event.Overflow, FromSeq: 1, ToSeq: 2}, "overflow <"},
	} {
		if got := see(&c.e); got != c.want {
			t.Errorf("%v %s <- %s: got %q, want %q", c.e.Type, c.e.Path, c.e.From, got, c.want)
		}
	}
	// Opening priv is seen through the chmod event, which clears the cache.
	os.Chmod(filepath.Join(root, "priv"), 0o755)
	if got := see(&event.Event{Type: event.Chmod, Path: "priv", IsDir: true}); got != "chmod priv<" {
		t.Fatal(got)
	}
	if got := see(&event.Event{Type: event.Create, Path: "priv/sub/f"}); got != "create priv/sub/f<" {
		t.Fatalf("after chmod 0755: %s", got)
	}
	// And closing pub/sub hides it again.
	os.Chmod(filepath.Join(root, "pub/sub"), 0o700)
	see(&event.Event{Type: event.Chmod, Path: "pub/sub", IsDir: true})
	if got := see(&event.Event{Type: event.Create, Path: "pub/sub/g"}); got != "-" {
		t.Fatalf("after chmod 0700: %s", got)
	}
	// A directory that does not exist yet is not cached as hidden.
	if got := see(&event.Event{Type: event.Create, Path: "later/f"}); got != "-" {
		t.Fatal(got)
	}
	os.Mkdir(filepath.Join(root, "later"), 0o755)
	if got := see(&event.Event{Type: event.Create, Path: "later/f"}); got != "create later/f<" {
		t.Fatalf("after mkdir: %s", got)
	}
}
