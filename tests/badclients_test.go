//go:build linux

package tests

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// rawConn is a hand-driven protocol connection.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func rawDial(t *testing.T, sock string) *rawConn {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(waitLimit))
	rc := &rawConn{t: t, c: c, r: bufio.NewReaderSize(c, 1<<16)}
	t.Cleanup(func() { c.Close() })
	if hello := rc.read(); hello["op"] != "hello" || hello["ok"] != true {
		t.Fatalf("hello: %v", hello)
	}
	return rc
}

func (rc *rawConn) send(s string) {
	if _, err := rc.c.Write([]byte(s)); err != nil {
		rc.t.Fatalf("send: %v", err)
	}
}

func (rc *rawConn) read() map[string]any {
	rc.t.Helper()
	line, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("read: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		rc.t.Fatalf("server sent invalid JSON %q: %v", line, err)
	}
	return m
}

// Clients that send garbage, over-long lines, or vanish mid-stream get
// errors or are disconnected; the daemon and a well-behaved client are
// unaffected.
func TestBinaryDaemonSurvivesBadClients(t *testing.T) {
	src, mnt := binMount(t)
	sock, err := mountutil.FindSocket(mnt)
	if err != nil {
		t.Fatal(err)
	}
	good, err := client.Dial(ctx(t), sock)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if _, err := good.Subscribe(ctx(t), client.SubscribeRequest{Name: "good"}); err != nil {
		t.Fatal(err)
	}

	garbage := rawDial(t, sock)
	for _, bad := range []struct{ line, code string }{
		{"this is not json\n", "bad_json"},
		{"[1,2,3]\n", "bad_request"},
		{`{"id":1}` + "\n", "bad_request"},
		{`{"id":2,"op":"explode"}` + "\n", "unknown_op"},
		{`{"id":3,"op":"subscribe","types":["nonsense"]}` + "\n", "unknown_type"},
		{`{"id":4,"op":"subscribe","since":"yesterday"}` + "\n", "bad_request"},
		{"\x00\xff\xfe garbage\n", "bad_json"},
	} {
		garbage.send(bad.line)
		reply := garbage.read()
		if reply["ok"] != false || reply["code"] != bad.code || reply["error"] == "" {
			t.Errorf("%q: reply %v, want error code %s", bad.line, reply, bad.code)
		}
	}
	garbage.send(`{"id":"still-alive","op":"sync"}` + "\n")
	if r := garbage.read(); r["ok"] != true || r["id"] != "still-alive" {
		t.Errorf("connection unusable after bad input: %v", r)
	}

	huge := rawDial(t, sock)
	// The server hangs up after 1 MiB, so the rest of the write may fail.
	go huge.c.Write([]byte(`{"id":1,"op":"sync","pad":"` + strings.Repeat("x", 2<<20) + "\"}\n"))
	if r := huge.read(); r["code"] != "line_too_long" {
		t.Errorf("over-long line: %v", r)
	}
	if _, err := huge.r.ReadString('\n'); err == nil {
		t.Error("connection stayed open after an over-long line")
	}

	// Subscribers that stop reading, or vanish mid-stream, while files
	// are being made.
	quitter := rawDial(t, sock)
	quitter.send(`{"id":1,"op":"subscribe"}` + "\n")
	quitter.read()
	stuck := rawDial(t, sock)
	stuck.send(`{"id":1,"op":"subscribe"}` + "\n")
	const files = 500
	for i := 0; i < files; i++ {
		if i == files/2 {
			quitter.c.Close()
		}
		os.WriteFile(filepath.Join(mnt, "f"+strings.Repeat("0", 3)+string(rune('a'+i%26))+itoa(i)), nil, 0o644)
	}
	seq, err := good.Sync(ctx(t))
	if err != nil {
		t.Fatalf("good client's sync: %v", err)
	}
	creates := 0
	for creates < files {
		select {
		case e := <-good.Events():
			if e.Type.String() == "create" {
				creates++
			}
			if e.Seq > seq {
				t.Fatalf("got seq %d beyond sync %d with only %d creates", e.Seq, seq, creates)
			}
		default:
			t.Fatalf("good client has %d of %d creates after sync", creates, files)
		}
	}
	st, err := good.Status(ctx(t))
	if err != nil || st["source"] != src {
		t.Fatalf("daemon status after bad clients: %v %v", st, err)
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
