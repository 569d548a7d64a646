// Package natstest runs real NATS servers with JetStream in-process on
// 127.0.0.1, for the cluster's tests and benchmarks: one node, or a
// cluster of several. Every server is shut down when the test ends.
package natstest

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is one in-process nats-server. Its ports stay the same across
// Stop and Start, so that clients reconnect to the URLs they were given.
type Server struct {
	opts *server.Options
	s    *server.Server
	// URL is the client URL (nats://127.0.0.1:PORT).
	URL string
}

// freePort returns a port nothing listens on right now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Run starts one JetStream node with its store in a temporary directory.
func Run(t testing.TB) *Server {
	t.Helper()
	return Cluster(t, 1)[0]
}

// Cluster starts n JetStream nodes routed to each other (n = 1: a single
// node, no cluster) and waits until JetStream has a meta leader.
func Cluster(t testing.TB, n int) []*Server {
	t.Helper()
	dir := t.TempDir()
	routes := make([]*url.URL, n)
	cports := make([]int, n)
	for i := range n {
		cports[i] = freePort(t)
		routes[i] = &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", cports[i])}
	}
	var out []*Server
	for i := range n {
		o := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1", Port: freePort(t),
			JetStream: true, StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i+1)),
			NoLog: true, NoSigs: true,
			// Small limits keep the store quick to set up.
			JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 1 << 30,
		}
		if n > 1 {
			o.Cluster = server.ClusterOpts{Name: "notifyfs-test", Host: "127.0.0.1", Port: cports[i]}
			o.Routes = routes
		}
		s := &Server{opts: o, URL: fmt.Sprintf("nats://127.0.0.1:%d", o.Port)}
		s.Start(t)
		t.Cleanup(s.Stop)
		out = append(out, s)
	}
	if n > 1 {
		waitMetaLeader(t, out)
	}
	return out
}

// Start (re)starts the server with its options and store.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	srv, err := server.NewServer(s.opts)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatalf("nats-server %s not ready", s.opts.ServerName)
	}
	s.s = srv
}

// Stop shuts the server down (a kill, as far as its clients can tell:
// their connections drop). Stopping a stopped server does nothing.
func (s *Server) Stop() {
	if s.s == nil {
		return
	}
	s.s.Shutdown()
	s.s.WaitForShutdown()
	s.s = nil
}

// Name is the server's name in the cluster.
func (s *Server) Name() string { return s.opts.ServerName }

// URLs joins the servers' client URLs with commas, as --cluster takes them.
func URLs(ss []*Server) string {
	var u []string
	for _, s := range ss {
		u = append(u, s.URL)
	}
	return strings.Join(u, ",")
}

// waitMetaLeader waits until the JetStream cluster has elected its meta
// leader, so that streams can be created.
func waitMetaLeader(t testing.TB, ss []*Server) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range ss {
			if s.s != nil && s.s.JetStreamIsLeader() {
				return
			}
		}
		time.Sleep(20 * time.Millisecond) // polling the server's own state; no event to wait on
	}
	t.Fatal("JetStream cluster elected no meta leader in 30s")
}

// StreamLeader names the server leading a stream (empty if none).
func StreamLeader(ss []*Server, account, stream string) *Server {
	for _, s := range ss {
		if s.s != nil && s.s.JetStreamIsStreamLeader(account, stream) {
			return s
		}
	}
	return nil
}
