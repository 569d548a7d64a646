package subscribers

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

func TestServerCloseDeliversRemainingEvents(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	subbed := dial(t, ts.path)
	_, r := subbed.call("subscribe", "")
	mustOK(t, r)
	idle := dial(t, ts.path)
	ts.publish(1000, eventbus.Create, "d")

	ts.bus.Close()
	if err := ts.srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Lstat(ts.path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file still there after Close: %v", err)
	}
	var got int
	for {
		b, err := subbed.line()
		if err != nil {
			break
		}
		got++
		if got == 1001 && !strings.Contains(string(b), `"type":"unmount"`) {
			t.Errorf("last event %s, want unmount", b)
		}
	}
	if got != 1001 {
		t.Errorf("got %d events, want 1000 and unmount", got)
	}
	idle.expectEnd()
	if err := <-ts.serve; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
	ts.serve <- nil // for the cleanup
}

// TestServerCloseIsBounded: a client that never reads cannot hold Close
// up for longer than DrainTimeout, even with the bus still open.
func TestServerCloseIsBounded(t *testing.T) {
	ts := startServer(t, eventbus.Options{RingSize: 1 << 17}, Options{DrainTimeout: 100 * time.Millisecond})
	stuck := dial(t, ts.path)
	_, r := stuck.call("subscribe", "")
	mustOK(t, r)
	ts.publish(100000, eventbus.Create, "dir-with-a-longish-name")
	// Make sure the writer really is blocked: sync cannot be answered
	// before it has written everything, which the socket cannot hold.
	stuck.send(`{"id":99,"op":"sync"}`)
	if err := ts.srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Reaching this line is the test; the go test timeout catches a hang.
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close() // leaves a socket file nobody answers on
	ts := startServer(t, eventbus.Options{}, Options{SocketPath: path})
	dial(t, ts.path)
}

func TestListenRefusesLiveSocket(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	_, err := Listen(eventbus.New(eventbus.Options{}), Info{}, Options{SocketPath: ts.path})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("Listen on a live socket: %v", err)
	}
	dial(t, ts.path) // the first server still works
}

func TestListenRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	os.WriteFile(path, []byte("precious"), 0o600)
	_, err := Listen(eventbus.New(eventbus.Options{}), Info{}, Options{SocketPath: path})
	if err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatal("the file was touched")
	}
}

func TestListenRefusesLongPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), strings.Repeat("x", 120))
	_, err := Listen(eventbus.New(eventbus.Options{}), Info{}, Options{SocketPath: path})
	if err == nil || !strings.Contains(err.Error(), "sun_path") {
		t.Fatalf("Listen with a long path: %v", err)
	}
}

func TestListenWithShortRoomUsesFallback(t *testing.T) {
	// A path that fits in sun_path but leaves no room for the 0700
	// detour directory must still work.
	dir := t.TempDir()
	name := strings.Repeat("y", sunPathMax-1-len(dir)-1)
	path := filepath.Join(dir, name)
	if len(path) != sunPathMax-1 {
		t.Fatalf("path is %d bytes", len(path))
	}
	ts := startServer(t, eventbus.Options{}, Options{SocketPath: path})
	dial(t, ts.path)
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func TestSocketModeAndGroup(t *testing.T) {
	opts := Options{Mode: 0o660}
	if os.Geteuid() == 0 {
		opts.Group = "65534"
	}
	ts := startServer(t, eventbus.Options{}, opts)
	fi, err := os.Lstat(ts.path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o660 {
		t.Fatalf("mode %v, want socket 0660", fi.Mode())
	}
	gid := fi.Sys().(*syscall.Stat_t).Gid
	want := uint32(os.Getegid())
	if opts.Group != "" {
		want = 65534
	}
	if gid != want {
		t.Fatalf("gid %d, want %d", gid, want)
	}
	// No detour directory left behind.
	ents, _ := os.ReadDir(filepath.Dir(ts.path))
	if len(ents) != 1 {
		t.Fatalf("directory holds %d entries, want only the socket", len(ents))
	}
}

func TestBadOptions(t *testing.T) {
	bus := eventbus.New(eventbus.Options{})
	dir := t.TempDir()
	for _, o := range []Options{
		{},
		{SocketPath: filepath.Join(dir, "a"), Mode: os.ModeSetuid | 0o600},
		{SocketPath: filepath.Join(dir, "b"), Group: "no-such-group-hopefully"},
		{SocketPath: filepath.Join(dir, "missing", "c")},
	} {
		if srv, err := Listen(bus, Info{}, o); err == nil {
			srv.Close()
			t.Errorf("Listen(%+v) succeeded", o)
		}
	}
}
