package subscribers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// ioTimeout bounds every read a test makes, so that a bug shows up as a
// failure naming what was awaited instead of a hung test.
const ioTimeout = 30 * time.Second

type testServer struct {
	bus   *eventbus.Bus
	srv   *Server
	path  string
	serve chan error
}

func startServer(t *testing.T, bopts eventbus.Options, opts Options) *testServer {
	t.Helper()
	if opts.SocketPath == "" {
		opts.SocketPath = filepath.Join(t.TempDir(), "s.sock")
	}
	bus := eventbus.New(bopts)
	srv, err := Listen(bus, Info{MountPoint: "/mnt/x", Source: "/src/x", Backend: "test"}, opts)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ts := &testServer{bus: bus, srv: srv, path: opts.SocketPath, serve: make(chan error, 1)}
	go func() { ts.serve <- srv.Serve() }()
	t.Cleanup(func() {
		ts.bus.Close()
		ts.srv.Close()
		if err := <-ts.serve; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ts
}

// publish publishes n events of type typ under path prefix dir.
func (ts *testServer) publish(n int, typ eventbus.Type, dir string) {
	for i := 0; i < n; i++ {
		ts.bus.Publish(&eventbus.Event{Type: typ, Path: dir + "/f" + strconv.Itoa(i), Origin: eventbus.OriginMount, Pid: 1})
	}
}

// tclient speaks the protocol by hand, so the tests see the wire.
type tclient struct {
	t     *testing.T
	nc    *net.UnixConn
	br    *bufio.Reader
	hello map[string]any
	ids   atomic.Int64
}

func dial(t *testing.T, path string) *tclient {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c := &tclient{t: t, nc: nc.(*net.UnixConn), br: bufio.NewReaderSize(nc, 1<<16)}
	t.Cleanup(func() { nc.Close() })
	c.hello = c.msg()
	if c.hello["op"] != "hello" || c.hello["ok"] != true {
		t.Fatalf("first message is not a hello: %v", c.hello)
	}
	return c
}

func (c *tclient) send(line string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(line + "\n")); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// line reads one raw line.
func (c *tclient) line() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	b, err := c.br.ReadBytes('\n')
	if err != nil {
		return b, err
	}
	return b[:len(b)-1], nil
}

func decode(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	err := d.Decode(&m)
	return m, err
}

// msg reads and decodes one line.
func (c *tclient) msg() map[string]any {
	c.t.Helper()
	b, err := c.line()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	m, err := decode(b)
	if err != nil {
		c.t.Fatalf("bad JSON from server %q: %v", b, err)
	}
	return m
}

// call sends a request with a fresh numeric id and reads until its reply,
// returning the events that came before it.
func (c *tclient) call(op string, fields string) ([]eventbus.Event, map[string]any) {
	c.t.Helper()
	id := c.ids.Add(1)
	if fields != "" {
		fields = "," + fields
	}
	c.send(fmt.Sprintf(`{"id":%d,"op":%q%s}`, id, op, fields))
	return c.until(id)
}

func (c *tclient) until(id int64) ([]eventbus.Event, map[string]any) {
	c.t.Helper()
	var evs []eventbus.Event
	for {
		b, err := c.line()
		if err != nil {
			c.t.Fatalf("waiting for reply %d: %v (after %d events)", id, err, len(evs))
		}
		if !bytes.HasPrefix(b, []byte(`{"op":`)) {
			var e eventbus.Event
			if err := e.UnmarshalJSON(b); err != nil {
				c.t.Fatalf("bad event %q: %v", b, err)
			}
			evs = append(evs, e)
			continue
		}
		m, err := decode(b)
		if err != nil {
			c.t.Fatalf("bad JSON %q: %v", b, err)
		}
		if n, ok := m["id"].(json.Number); ok && n.String() == strconv.FormatInt(id, 10) {
			return evs, m
		}
		c.t.Fatalf("unexpected message while waiting for reply %d: %s", id, b)
	}
}

// mustOK fails unless m is a successful reply.
func mustOK(t *testing.T, m map[string]any) {
	t.Helper()
	if m["ok"] != true {
		t.Fatalf("request failed: %v", m)
	}
}

func num(t *testing.T, v any) uint64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("not a number: %#v", v)
	}
	u, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil {
		t.Fatalf("not a uint64: %v", n)
	}
	return u
}

// expectEnd reads until the server ends the connection. A server that
// closes with unread client data makes the kernel report ECONNRESET
// instead of EOF; both mean "closed by the server".
func (c *tclient) expectEnd() {
	c.t.Helper()
	for {
		b, err := c.line()
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			if len(b) != 0 {
				c.t.Fatalf("partial line before end: %q", b)
			}
			return
		}
		if err != nil {
			c.t.Fatalf("waiting for end of stream: %v", err)
		}
		c.t.Fatalf("unexpected line before end of stream: %s", b)
	}
}

func seqs(evs []eventbus.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.Seq
	}
	return out
}

// checkRun fails unless evs are exactly seqs from..to, in order.
func checkRun(t *testing.T, evs []eventbus.Event, from, to uint64) {
	t.Helper()
	if uint64(len(evs)) != to-from+1 {
		t.Fatalf("got %d events, want %d (seq %d..%d)", len(evs), to-from+1, from, to)
	}
	for i, e := range evs {
		if e.Seq != from+uint64(i) {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, from+uint64(i))
		}
	}
}
