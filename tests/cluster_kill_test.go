//go:build linux

package tests

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/internal/natstest"
	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// startHost runs `notifyfs mount -f` of src at mnt as host of share, in
// its own process (so that it can be killed with -9), and waits until
// it is ready.
func startHost(t *testing.T, urls, share, host, src, mnt, journal, sock string) *exec.Cmd {
	t.Helper()
	ready, readyW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "mount", "-f", "--cluster", urls, "--share", share, "--host", host,
		"--journal", journal, "--journal-sync", "always", "--underneath", "off", "--socket", sock, "--ready-fd=3", src, mnt)
	cmd.ExtraFiles = []*os.File{readyW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	readyW.Close()
	line, _ := bufio.NewReader(ready).ReadString('\n')
	ready.Close()
	if strings.TrimSpace(line) != "ok" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("%s not ready: %q", host, line)
	}
	return cmd
}

// A daemon killed with -9 in the middle of the workload and mounted
// again with its journal: its events not yet published are published
// once, and the events it missed from the other host arrive once.
func TestClusterDaemonKilledAndRemounted(t *testing.T) {
	requireFuse(t)
	srv := natstest.Run(t)
	share := shareName(t)
	dir := t.TempDir()
	src, mnt2, j2, sock2 := filepath.Join(dir, "share"), filepath.Join(dir, "mnt2"), filepath.Join(dir, "j2"), filepath.Join(dir, "sock2")
	must(t, os.Mkdir(src, 0o755))
	must(t, os.Mkdir(mnt2, 0o755))
	m1 := newMount(t, clustered(src, srv.URL, share, "h1", journalDir(t)), logTo(t, "h1: "))
	<-m1.d.Cluster().Up()
	s1 := followHost(t, m1)
	t.Cleanup(func() { cleanupMount(t, mnt2) })

	h2 := startHost(t, srv.URL, share, "h2", src, mnt2, j2, sock2)
	var want1, want2 []string
	mkdir := func(mnt, rel string, want *[]string) {
		must(t, os.Mkdir(filepath.Join(mnt, rel), 0o755))
		*want = append(*want, "mkdir "+rel)
	}
	mkdir(m1.mnt, "h1", &want1)
	mkdir(mnt2, "h2", &want2)
	for i := range 200 {
		mkdir(m1.mnt, fmt.Sprintf("h1/a%d", i), &want1)
		mkdir(mnt2, fmt.Sprintf("h2/a%d", i), &want2)
	}
	// Killed right after its last operation returned: some of its events
	// are in its journal but not yet in the stream.
	h2.Process.Kill()
	h2.Wait()
	for i := range 100 {
		mkdir(m1.mnt, fmt.Sprintf("h1/b%d", i), &want1) // missed by h2 while it is down
	}
	if _, err := mountutil.ClearStale(mnt2); err != nil {
		t.Fatal(err)
	}
	h2 = startHost(t, srv.URL, share, "h2", src, mnt2, j2, sock2)
	t.Cleanup(func() {
		run(t, "umount", mnt2)
		h2.Wait()
	})
	mkdir(mnt2, "h2/done", &want2)
	mkdir(m1.mnt, "h1/done", &want1)

	// h1's stream: every change of h2 once, in order.
	s1.until("h2's marker", func(evs []event.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Path == "h2/done"
	})
	got, _ := ofHost(s1.all, "h2")
	if d := firstDiff(got, want2); d != "" {
		t.Errorf("h1's stream, h2's changes: %s", d)
	}
	// h2's stream, from its journal's start: every change of h1 once.
	c, err := client.Dial(ctx(t), sock2)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(ctx(t), client.SubscribeRequest{Since: &event.Cursor{Seq: 0}, Types: []string{"mkdir"}}); err != nil {
		t.Fatal(err)
	}
	s2 := &hostStream{t: t, c: c}
	s2.until("h1's marker", func(evs []event.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Path == "h1/done"
	})
	got, _ = ofHost(s2.all, "h1")
	if d := firstDiff(got, want1); d != "" {
		t.Errorf("h2's stream, h1's changes: %s", d)
	}
}

// notifyfs watch --cluster follows a share with no mount, each event's
// seq its stream sequence, and resumes after one with --since.
func TestClusterWatchShare(t *testing.T) {
	requireFuse(t)
	srv := natstest.Run(t)
	share := shareName(t)
	src := t.TempDir()
	m := newMount(t, clustered(src, srv.URL, share, "h1", journalDir(t)))
	<-m.d.Cluster().Up()
	for _, d := range []string{"x", "y", "z"} {
		must(t, os.Mkdir(m.path(d), 0o755))
	}
	watch := func(since string, n int) []event.Event {
		out := mustRun(t, "watch", "--cluster", srv.URL, "--share", share, "--since", since, "--type", "mkdir",
			"-n", fmt.Sprint(n), "--format", "json", "--timeout", "20s")
		return decodeEvents(t, out)
	}
	all := watch("0", 3)
	var got []string
	for _, e := range all {
		got = append(got, fmt.Sprintf("%s %s %s %s", e.Type, e.Path, e.Host, e.Origin))
	}
	if d := firstDiff(got, []string{"mkdir x h1 mount", "mkdir y h1 mount", "mkdir z h1 mount"}); d != "" {
		t.Fatalf("watch --cluster --since 0: %s", d)
	}
	rest := watch(fmt.Sprint(all[1].Seq), 1)
	if len(rest) != 1 || rest[0].Path != "z" || rest[0].Seq != all[2].Seq {
		t.Errorf("watch --since %d: %+v, want z at %d", all[1].Seq, rest, all[2].Seq)
	}
}
