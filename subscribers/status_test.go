package subscribers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
)

func TestStatus(t *testing.T) {
	bus := eventbus.New(eventbus.Options{Epoch: "ep"})
	// The daemon's hook adds its fields beside the server's.
	type extended struct {
		*Status
		Extra string `json:"extra"`
	}
	info := Info{MountPoint: "/m", Source: "/s", Backend: "poll", Status: func(st *Status) any {
		return extended{Status: st, Extra: "x"}
	}}
	srv, err := Listen(bus, info, Options{SocketPath: filepath.Join(t.TempDir(), "s")})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve()
	t.Cleanup(func() { bus.Close(); srv.Close() })
	// A subscriber that is not a socket connection, like the daemon's own --print.
	local, _ := bus.Subscribe("local", eventbus.Filter{}, nil)
	defer local.Close()

	w := dial(t, srv.Path())
	_, r := w.call("subscribe", `"name":"watcher"`)
	mustOK(t, r)
	for i := 0; i < 4; i++ {
		bus.Publish(&eventbus.Event{Type: eventbus.Create, Path: "x"})
	}
	w.call("sync", "")

	c := dial(t, srv.Path())
	_, r = c.call("status", "")
	mustOK(t, r)
	st := r["status"].(map[string]any)
	if num(t, st["seq"]) != 4 || st["epoch"] != "ep" || num(t, st["oldest_seq"]) != 1 ||
		st["mount"] != "/m" || st["source"] != "/s" || st["backend"] != "poll" || st["extra"] != "x" ||
		num(t, st["pid"]) != uint64(os.Getpid()) || num(t, st["protocol"]) != 1 || num(t, st["drops"]) != 0 {
		t.Fatalf("status = %v", st)
	}
	subs := st["subscribers"].([]any)
	if len(subs) != 2 {
		t.Fatalf("subscribers = %v", subs)
	}
	var watcher map[string]any
	for _, s := range subs {
		s := s.(map[string]any)
		switch s["name"] {
		case "watcher":
			watcher = s
		case "local":
			if _, ok := s["peer"]; ok {
				t.Errorf("local subscriber has a peer: %v", s)
			}
		}
	}
	if watcher == nil || num(t, watcher["position"]) != 4 || num(t, watcher["lag"]) != 0 {
		t.Fatalf("watcher = %v", watcher)
	}
	if peer, ok := watcher["peer"].(map[string]any); !ok || num(t, peer["pid"]) != uint64(os.Getpid()) ||
		num(t, peer["uid"]) != uint64(os.Geteuid()) || peer["comm"] == "" {
		t.Fatalf("watcher peer = %v", watcher["peer"])
	}
	conns := st["connections"].([]any)
	if len(conns) != 2 {
		t.Fatalf("connections = %v", conns)
	}
	first := conns[0].(map[string]any)
	if num(t, first["subscription"]) == 0 || first["connected"] == "" {
		t.Fatalf("first connection = %v", first)
	}
	if _, ok := conns[1].(map[string]any)["subscription"]; ok {
		t.Fatalf("second connection has a subscription: %v", conns[1])
	}
}
