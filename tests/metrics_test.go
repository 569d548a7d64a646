//go:build linux

package tests

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// scrape fetches addr/metrics and returns each sample line's value by
// its name and labels as written ("notifyfs_seq", `x{a="b"}`).
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	m := map[string]float64{}
	for _, l := range strings.Split(string(b), "\n") {
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample line %q", l)
		}
		m[l[:i]] = v
	}
	return m
}

// TestMetricsScrape mounts with --metrics, makes changes through the
// mount and underneath it, and scrapes the real HTTP endpoint.
func TestMetricsScrape(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // the daemon listens there next; nothing else on this machine picks ports from the ephemeral range
	src, mnt := binMount(t, "--metrics", addr, "--journal-sync", "always", "--underneath", "auto")
	if err := os.WriteFile(filepath.Join(mnt, "a"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "b"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(mnt, "a"), filepath.Join(mnt, "c"))
	mustRun(t, "sync", mnt) // the underneath change is published

	m := scrape(t, addr)
	for name, min := range map[string]float64{
		`notifyfs_events_total{origin="mount",type="create"}`:                  1,
		`notifyfs_events_total{origin="mount",type="rename"}`:                  1,
		`notifyfs_events_total{origin="backing",type="create"}`:                1,
		`notifyfs_fuse_request_duration_seconds_count{op="create"}`:            1,
		`notifyfs_fuse_request_duration_seconds_bucket{op="rename",le="+Inf"}`: 1,
		`notifyfs_journal_bytes`:                                               1,
		`notifyfs_journal_sync_duration_seconds_count`:                         1,
		`notifyfs_seq`:                  5,
		`notifyfs_events_dropped_total`: 0,
		`go_goroutines`:                 1,
	} {
		v, ok := m[name]
		if !ok || v < min {
			t.Errorf("%s = %v (present %v), want >= %v", name, v, ok, min)
		}
	}
	found := map[string]bool{}
	for k := range m {
		for _, p := range []string{"notifyfs_subscriber_lag{", "notifyfs_underneath_events_total{", "notifyfs_underneath_rescans_total{"} {
			if strings.HasPrefix(k, p) {
				found[p] = true
			}
		}
	}
	if len(found) != 3 {
		t.Errorf("missing subscriber or underneath metrics: found only %v", found)
	}
	var st map[string]any
	json.Unmarshal([]byte(mustRun(t, "status", mnt)), &st)
	mustRun(t, "umount", mnt)
	// umount returns when the daemon hangs up its socket; the metrics
	// listener closes as the process ends.
	waitGone(t, int(st["pid"].(float64)))
	if _, err := http.Get("http://" + addr + "/metrics"); err == nil {
		t.Errorf("metrics still served after the unmount")
	}
}
