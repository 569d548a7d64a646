//go:build linux

package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

// The "subscriber" worker action connects to the socket in Args[0] as
// the test user, subscribes since the seq in Args[1], syncs, and returns
// every event up to the barrier as "type path[ <- from]" (Steps), then
// asks for status: Count is how many connections it shows, Hits how
// many of them are another uid's. With Args[2] = N it instead opens N
// connections and returns each hello's error code (Steps, "" = ok).
var _ = registerTrustAction("subscriber", subscriberWork)

func registerTrustAction(name string, fn func(trustJob) trustResult) bool {
	extraTrustActions[name] = fn
	return true
}

func subscriberWork(job trustJob) trustResult {
	var r trustResult
	dial := func() (net.Conn, *bufio.Reader, wire.HelloMsg, error) {
		c, err := net.Dial("unix", job.Args[0])
		if err != nil {
			return nil, nil, wire.HelloMsg{}, err
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		var h wire.HelloMsg
		line, err := br.ReadBytes('\n')
		if err == nil {
			err = json.Unmarshal(line, &h)
		}
		return c, br, h, err
	}
	if len(job.Args) > 2 {
		n, _ := strconv.Atoi(job.Args[2])
		for range n {
			c, _, h, err := dial()
			if err != nil {
				r.Err = err.Error()
				return r
			}
			defer c.Close() // held open until all are made
			r.Steps = append(r.Steps, trustStepOut{Err: h.Code})
		}
		return r
	}
	c, br, h, err := dial()
	if err != nil || !h.OK {
		r.Err = fmt.Sprintf("connect: %v %s %s", err, h.Code, h.Error)
		return r
	}
	defer c.Close()
	fmt.Fprintf(c, `{"id":1,"op":"subscribe","since":%s}`+"\n"+`{"id":2,"op":"sync"}`+"\n", job.Args[1])
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			r.Err = "read: " + err.Error()
			return r
		}
		var m struct {
			Op, Type, Path, From string
		}
		json.Unmarshal(line, &m)
		if m.Op == "sync" {
			break
		}
		if m.Op != "" {
			continue
		}
		s := m.Type + " " + m.Path
		if m.From != "" {
			s += " <- " + m.From
		}
		r.Steps = append(r.Steps, trustStepOut{Data: s})
	}
	fmt.Fprintln(c, `{"id":3,"op":"status"}`)
	line, err := br.ReadBytes('\n')
	if err != nil {
		r.Err = "status: " + err.Error()
		return r
	}
	var st struct {
		Status struct {
			Connections []struct {
				Peer *struct{ Uid int } `json:"peer"`
			} `json:"connections"`
		} `json:"status"`
	}
	json.Unmarshal(line, &st)
	for _, c := range st.Status.Connections {
		r.Count++
		if c.Peer == nil || c.Peer.Uid != os.Getuid() {
			r.Hits++
		}
	}
	return r
}

// Finding 8: a member of the socket's group saw every path, names in
// another user's 0700 directory too, and status showed the other
// clients; the documented --socket-mode 0660 --socket-group example did
// not work at all (the runtime directory was 0700). Now a real
// unprivileged subscriber, reaching the socket at its default place,
// gets only what it could look up, renames across the boundary as
// create/remove, and sees only its own connections in status.
func TestHostilePermissionFiltering(t *testing.T) {
	u := newTestUser(t)
	m := newMount(t, func(c *daemon.Config) {
		c.Socket.SocketPath = "" // the default place, in the runtime directory
		c.Socket.Mode = 0o660
		c.Socket.Group = strconv.Itoa(u.gid)
		c.Socket.MaxConnsPerUser = 2
	})
	sock := m.d.Socket()
	// Another client (root's) is connected meanwhile.
	other, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	start := m.bus.Seq()
	must(t, os.Mkdir(m.path("pub"), 0o755))
	must(t, os.WriteFile(m.path("pub/a"), nil, 0o644))
	must(t, os.Mkdir(m.path("priv"), 0o700))
	must(t, os.WriteFile(m.path("priv/secret-name"), nil, 0o644))
	must(t, os.Mkdir(m.path("priv/secret-dir"), 0o755))
	must(t, os.WriteFile(m.path("priv/secret-dir/deeper"), nil, 0o644))
	must(t, os.Rename(m.path("priv/secret-name"), m.path("pub/moved-in")))
	must(t, os.Rename(m.path("pub/a"), m.path("priv/a-gone")))

	r := runAs(t, u, trustJob{Action: "subscriber", Args: []string{sock, strconv.FormatUint(start, 10)}})
	if r.Err != "" {
		t.Fatalf("subscriber as %s: %s", u.name, r.Err)
	}
	var got []string
	for _, s := range r.Steps {
		got = append(got, s.Data)
	}
	all := strings.Join(got, "\n")
	for _, secret := range []string{"secret", "a-gone", "deeper"} {
		if strings.Contains(all, secret) {
			t.Errorf("the subscriber saw %q, inside a directory it may not search:\n%s", secret, all)
		}
	}
	for _, want := range []string{"mkdir pub", "create pub/a", "mkdir priv", "create pub/moved-in", "remove pub/a"} {
		if !strings.Contains(all+"\n", want+"\n") {
			t.Errorf("missing %q in what the subscriber saw:\n%s", want, all)
		}
	}
	if r.Count != 1 || r.Hits != 0 {
		t.Errorf("status showed the subscriber %d connections, %d of other users: want only its own", r.Count, r.Hits)
	}

	// The cap on one user's connections.
	r = runAs(t, u, trustJob{Action: "subscriber", Args: []string{sock, "0", "3"}})
	if r.Err != "" || len(r.Steps) != 3 || r.Steps[0].Err != "" || r.Steps[1].Err != "" || r.Steps[2].Err != wire.CodeTooManyConns {
		t.Fatalf("three connections with a cap of two: %+v", r)
	}
}
