package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/internal/natstest"
)

// member is one bus (with its journal) joined to a share as host.
type member struct {
	bus  *eventbus.Bus
	node *Node
	dir  string
}

// join starts a bus with its journal in a temporary directory as host
// of share on the NATS servers urls (comma-separated), creating the
// stream with replicas if it is missing; it leaves when the test ends.
// waitDown waits until n's client has noticed that NATS went away (the
// server's shutdown closes the socket; the client reads that on its own
// goroutine).
func waitDown(t testing.TB, n *Node) {
	deadline := time.After(20 * time.Second)
	for {
		n.mu.Lock()
		ch := n.changed
		n.mu.Unlock()
		if !n.nc.IsConnected() {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatal("the client never noticed NATS was down")
		}
	}
}

func join(t testing.TB, urls, share, host string, replicas int) *member {
	t.Helper()
	dir := t.TempDir()
	bus, err := eventbus.OpenBus(eventbus.Options{Host: host, Journal: eventbus.JournalOptions{Dir: dir}})
	if err != nil {
		t.Fatal(err)
	}
	n, err := Start(Options{URLs: strings.Split(urls, ","), Share: share, Host: host, Replicas: replicas}, Config{Bus: bus, Dir: dir, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	m := &member{bus: bus, node: n, dir: dir}
	t.Cleanup(m.close)
	return m
}

// pair joins hosts a and b to share and waits until both are up.
func pair(t testing.TB, urls, share string, replicas int) (a, b *member) {
	a, b = join(t, urls, share, "a", replicas), join(t, urls, share, "b", replicas)
	<-a.node.Up()
	<-b.node.Up()
	return a, b
}

func (m *member) close() {
	if m.node == nil {
		return
	}
	m.node.StopConsuming()
	m.bus.Close()
	m.node.Close()
	m.node = nil
}

// collect reads sub until it has n events of origin remote.
func collect(t *testing.T, sub *eventbus.Subscription, n int) []*eventbus.Event {
	t.Helper()
	var got []*eventbus.Event
	deadline := time.After(20 * time.Second)
	for len(got) < n {
		evs, _, _ := sub.Take(nil, 1024)
		for _, e := range evs {
			if e.Origin == event.OriginRemote {
				got = append(got, e)
			}
		}
		if len(evs) == 0 {
			select {
			case <-sub.Ready():
			case <-deadline:
				t.Fatalf("got %d of %d remote events", len(got), n)
			}
		}
	}
	return got
}

func TestClusterBusesExchangeEventsOnce(t *testing.T) {
	srv := natstest.Run(t)
	a, b := pair(t, srv.URL, "s1", 1)
	sub, err := b.bus.Subscribe("t", eventbus.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for i := range n {
		a.bus.Publish(&eventbus.Event{Type: event.Create, Path: fmt.Sprintf("f%d", i), Origin: event.OriginMount, Pid: 7, Comm: "w"})
	}
	got := collect(t, sub, n)
	for i, e := range got {
		if e.Path != fmt.Sprintf("f%d", i) || e.Host != "a" || e.Pid != 7 || e.Comm != "w" {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
	if st := a.node.Stats(); st.Connection != "connected" {
		t.Fatalf("status %+v", st)
	}
}

// NATS down while events are made: they wait in the journal and arrive
// once NATS is back, each once.
var outage = 10 * time.Second

func TestClusterBusesOutage(t *testing.T) {
	srv := natstest.Run(t)
	a, b := pair(t, srv.URL, "s2", 1)
	sub, err := b.bus.Subscribe("t", eventbus.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		if i == 100 {
			srv.Stop()
		}
		a.bus.Publish(&eventbus.Event{Type: event.Create, Path: fmt.Sprintf("f%d", i), Origin: event.OriginMount})
	}
	waitDown(t, a.node)
	if st := a.node.Stats(); st.Backlog == 0 || st.Connection == "connected" {
		t.Errorf("while down: %+v", *st)
	}
	<-time.After(outage)
	srv.Start(t)
	got := collect(t, sub, n)
	for i, e := range got {
		if e.Path != fmt.Sprintf("f%d", i) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
}

// Three nodes, stream R3: a node is killed while events flow.
func TestClusterBusesNodeKilled(t *testing.T) {
	nodes := natstest.Cluster(t, 3)
	urls := natstest.URLs(nodes)
	a, b := pair(t, urls, "s3", 3)
	sub, err := b.bus.Subscribe("t", eventbus.Filter{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3000
	// The kill comes once events flow and b knows where a's stand: a
	// host's first message to a consumer is taken whatever it follows.
	for i := range n {
		if i == 200 {
			collect(t, sub, 200)
		}
		if i == 1000 {
			natstest.StreamLeader(nodes, "$G", StreamName("s3")).Stop()
		}
		a.bus.Publish(&eventbus.Event{Type: event.Create, Path: fmt.Sprintf("f%d", i), Origin: event.OriginMount})
	}
	got := collect(t, sub, n-200)
	for i, e := range got {
		if e.Path != fmt.Sprintf("f%d", i+200) {
			t.Fatalf("event %d: %+v", i+200, e)
		}
	}
}

// position reads what msg.Metadata reads from both forms of reply subject.
func TestPosition(t *testing.T) {
	for _, tc := range []struct {
		reply        string
		seq, pending uint64
		ok           bool
	}{
		{"$JS.ACK.S.C.1.42.7.1700000000000000000.3", 42, 3, true},
		{"$JS.ACK._.HASH.S.C.1.42.7.1700000000000000000.3.rnd", 42, 3, true},
		{"$JS.ACK.dom.HASH.S.C.2.9.9.1700000000000000000.0", 9, 0, true},
		{"$JS.ACK.S.C.1.42", 0, 0, false},
		{"_INBOX.x.y", 0, 0, false},
	} {
		seq, pending, ok := position(tc.reply)
		if seq != tc.seq || pending != tc.pending || ok != tc.ok {
			t.Errorf("position(%q) = %d, %d, %v; want %d, %d, %v", tc.reply, seq, pending, ok, tc.seq, tc.pending, tc.ok)
		}
	}
}

// parseAck reads a stream's answers as the client does.
func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		data string
		seq  uint64
		ok   bool
	}{
		{`{"stream":"NOTIFYFS_x","seq":17}`, 17, true},
		{`{"stream":"NOTIFYFS_x","seq":17,"duplicate":true}`, 17, true},
		{`{"stream":"NOTIFYFS_x", "domain":"d", "seq" : 5}`, 5, true},
		{`{"error":{"code":503,"err_code":10077,"description":"stream store failed"},"stream":"NOTIFYFS_x","seq":0}`, 0, false},
		{``, 0, false},
		{`{"stream":"NOTIFYFS_x"}`, 0, false},
	} {
		seq, ok := parseAck([]byte(tc.data))
		if seq != tc.seq || ok != tc.ok {
			t.Errorf("parseAck(%s) = %d, %v; want %d, %v", tc.data, seq, ok, tc.seq, tc.ok)
		}
	}
}
