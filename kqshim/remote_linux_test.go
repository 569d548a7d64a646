package kqshim

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// Another host's changes, announced before or after the backend sees
// them on the shared tree, are absorbed; a change nobody announced is
// published once the hold is over and the gate open.
func TestRemoteChangesAbsorbed(t *testing.T) {
	for _, backend := range []string{"inotify", "poll"} {
		t.Run(backend, func(t *testing.T) {
			root := t.TempDir()
			c := &collector{}
			gateOpen := make(chan struct{})
			gate := func(time.Time) bool {
				select {
				case <-gateOpen:
					return true
				default:
					return false
				}
			}
			w, err := New(Options{Backend: backend, PollInterval: time.Hour}, Config{Source: root, Publish: c.publish, Hold: 50 * time.Millisecond, HoldGate: gate})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { w.Close() })

			// Announced first, then made.
			w.ExpectRemote(&eventbus.Event{Type: eventbus.Mkdir, Path: "early"}, time.Minute)
			if err := os.Mkdir(filepath.Join(root, "early"), 0o755); err != nil {
				t.Fatal(err)
			}
			// Made first (the backend finds it and holds it), then
			// announced; and one change nobody announces.
			if err := os.WriteFile(filepath.Join(root, "late"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(filepath.Join(root, "mine"), 0o755); err != nil {
				t.Fatal(err)
			}
			w.b.poke()
			// The gate is shut: nothing may come out yet.
			if w.Flush(300 * time.Millisecond) {
				t.Fatalf("flush answered with the gate shut; published %s", c.take())
			}
			w.ExpectRemote(&eventbus.Event{Type: eventbus.Create, Path: "late"}, time.Minute)
			close(gateOpen)
			if !w.Flush(10 * time.Second) {
				t.Fatal("flush timed out")
			}
			if got := c.take(); got != "mkdir mine" {
				t.Errorf("published %q, want only mkdir mine", got)
			}
		})
	}
}
