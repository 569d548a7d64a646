package main

import (
	"strings"
	"testing"
)

// Output of go test -bench -count 2 where the benchmark's daemon logged
// while it ran, splitting the second result line (as seen on this machine).
const pollOut = "goos: linux\n" +
	"BenchmarkPollDelay-2   \t       1\t9988124868 ns/op\t      2001 max-ms\t      1999 p50-ms\n" +
	"BenchmarkPollDelay-2   \tnotifyfs: 2026/12/07 00:03:31 changes underneath /tmp/x/src are seen with poll\n" +
	"notifyfs: 2026/12/07 00:03:41 /tmp/x/mnt was unmounted\n" +
	"       1\t9998761718 ns/op\t      2001 max-ms\t      2000 p50-ms\n" +
	"PASS\n"

func TestBenchResultsSplitLine(t *testing.T) {
	res := benchResults(pollOut)
	if len(res) != 2 {
		t.Fatalf("got %d results, want 2: %+v", len(res), res)
	}
	for _, r := range res {
		if r.name != "BenchmarkPollDelay-2" || strings.Join(r.f[3:5], " ") != "2001 max-ms" || r.f[6] != "p50-ms" {
			t.Errorf("result %+v", r)
		}
	}
}

func TestClusterValues(t *testing.T) {
	rep := &report{cfg: &config{gobench: true}, gobench: []*goBench{
		{cluster: true, output: pollOut},
		{cluster: true, err: "exit status 1", output: "BenchmarkClusterReplication-2   \t--- FAIL: BenchmarkClusterReplication-2\n    bench_test.go:70: 10 of 200000 arrived\nFAIL\n"},
	}}
	v, why := rep.clusterValues(cmPollP50)
	if len(v) != 2 || v[0] != 1999 || v[1] != 2000 || why != "" {
		t.Errorf("poll p50: %v %q", v, why)
	}
	v, why = rep.clusterValues(cmRepl)
	if len(v) != 0 || !strings.Contains(why, "10 of 200000 arrived") {
		t.Errorf("replication: %v %q", v, why)
	}
	v, why = rep.clusterValues(cmLatP99)
	if len(v) != 0 || !strings.Contains(why, "failed") {
		t.Errorf("latency: %v %q", v, why)
	}
	ts := rep.clusterTargets()
	if len(ts) != 2 || ts[0].met != notMeasured || ts[1].met != notMeasured || !strings.Contains(ts[1].measured, "10 of 200000") {
		t.Errorf("targets: %+v", ts)
	}
	quick := &report{cfg: &config{quick: true}}
	if _, why := quick.clusterValues(cmRepl); !strings.Contains(why, "--quick") {
		t.Errorf("quick: %q", why)
	}
}
