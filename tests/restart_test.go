//go:build linux

package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// daemonPid asks a mount's daemon for its pid.
func daemonPid(t *testing.T, mnt string) int {
	var st map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, "status", "--format", "json", mnt)), &st); err != nil {
		t.Fatal(err)
	}
	return int(st["pid"].(float64))
}

// Kill -9 of the daemon, umount of the stale mount, mount again on the
// same journal: a subscriber resuming with its old cursor gets every
// event it had not seen and nothing twice (always); with interval it is
// told about anything missing.
func TestBinaryResumeAfterKill(t *testing.T) {
	for _, policy := range []string{"always", "interval"} {
		t.Run(policy, func(t *testing.T) {
			src, mnt := binMount(t, "--journal-sync", policy)
			journal := filepath.Join(filepath.Dir(src), "journal")
			sock, _ := mountutil.FindSocket(mnt)
			c, err := client.Dial(ctx(t), sock)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Subscribe(ctx(t), client.SubscribeRequest{Types: []string{"create"}}); err != nil {
				t.Fatal(err)
			}
			const total = 300
			for i := 0; i < total; i++ {
				if i == 100 {
					// The subscriber reads what exists so far and goes away.
					if _, err := c.Sync(ctx(t)); err != nil {
						t.Fatal(err)
					}
				}
				os.WriteFile(filepath.Join(mnt, fmt.Sprintf("f%03d", i)), nil, 0o644)
			}
			var cursor eventbus.Cursor
			seen := map[string]bool{}
			hello := c.Hello()
			for len(seen) < 100 {
				e := <-c.Events()
				seen[e.Path] = true
				cursor = eventbus.Cursor{Epoch: hello.Epoch, Seq: e.Seq}
			}
			c.Close()

			pid := daemonPid(t, mnt)
			syscall.Kill(pid, syscall.SIGKILL)
			waitGone(t, pid)
			mustRun(t, "umount", mnt)
			mustRun(t, "mount", "--journal", journal, "--journal-sync", policy, src, mnt)

			var resumed []eventbus.Event
			if policy == "always" {
				// Nothing may be missing: the CLI must deliver them all.
				out := mustRun(t, "watch", "--since", fmt.Sprintf("%s:%d", cursor.Epoch, cursor.Seq),
					"--format", "json", "--type", "create", "-n", fmt.Sprint(total-100), "--timeout", "20s", mnt)
				resumed = decodeEvents(t, out)
			} else {
				// Some may be missing (those not yet handed to the kernel
				// when the daemon died): read what the journal has, up to
				// a sync, and require that anything missing is told.
				resumed = resumeUpToSync(t, mnt, cursor, "create")
			}
			var lost uint64
			for _, e := range resumed {
				switch e.Type {
				case eventbus.Create:
					if seen[e.Path] {
						t.Errorf("%s delivered twice", e.Path)
					}
					seen[e.Path] = true
				case eventbus.Overflow:
					lost += e.ToSeq - e.FromSeq + 1
				case eventbus.Reset:
					t.Fatalf("cursor in the same epoch was reset: %+v", e)
				}
			}
			if policy == "always" && (len(seen) != total || lost != 0) {
				t.Errorf("always: %d of %d files seen, %d reported lost", len(seen), total, lost)
			}
			if policy == "interval" && len(seen) != total && lost == 0 {
				t.Errorf("interval: %d of %d files seen and no overflow told", len(seen), total)
			}
		})
	}
}

// The Go client's Follow rides out a daemon restart: every event once,
// in order, across an umount and a new mount on the same journal.
func TestBinaryFollowAcrossRestart(t *testing.T) {
	src, mnt := binMount(t)
	journal := filepath.Join(filepath.Dir(src), "journal")
	sock, _ := mountutil.FindSocket(mnt)
	var start uint64
	fmt.Sscan(mustRun(t, "sync", mnt), &start)
	st := client.Follow(ctx(t), sock, client.SubscribeRequest{Types: []string{"mkdir"}, Since: &eventbus.Cursor{Seq: start}}, client.FollowOptions{RetryFor: waitLimit})
	defer st.Close()
	const perRun = 50
	for run := 0; run < 2; run++ {
		if run == 1 {
			mustRun(t, "umount", mnt)
			mustRun(t, "mount", "--journal", journal, src, mnt)
		}
		for i := 0; i < perRun; i++ {
			if err := os.Mkdir(filepath.Join(mnt, fmt.Sprintf("d%d-%02d", run, i)), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	var got []string
	var last uint64
	for len(got) < 2*perRun {
		e, ok := <-st.Events()
		if !ok {
			t.Fatalf("stream ended after %d events: %v; got %v", len(got), st.Err(), got)
		}
		switch e.Type {
		case eventbus.Mkdir:
			if e.Seq <= last {
				t.Fatalf("seq %d after %d", e.Seq, last)
			}
			last = e.Seq
			got = append(got, e.Path)
		case eventbus.Unmount:
		default:
			t.Fatalf("unexpected %+v", e)
		}
	}
	for i, p := range got {
		if want := fmt.Sprintf("d%d-%02d", i/perRun, i%perRun); p != want {
			t.Fatalf("event %d is %s, want %s", i, p, want)
		}
	}
}

// resumeUpToSync subscribes from cursor (to types, or the default
// types) and returns every event up to the daemon's current seq.
func resumeUpToSync(t *testing.T, mnt string, cursor eventbus.Cursor, types ...string) []eventbus.Event {
	t.Helper()
	c := dialMount(t, mnt)
	if _, err := c.Subscribe(ctx(t), client.SubscribeRequest{Since: &cursor, Types: types}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// Sync returned: everything up to its seq is queued on Events.
	var out []eventbus.Event
	for {
		select {
		case e := <-c.Events():
			out = append(out, e)
		default:
			return out
		}
	}
}
