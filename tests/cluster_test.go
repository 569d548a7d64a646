//go:build linux

package tests

import (
	"fmt"
	"math/rand"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/cluster"
	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/internal/natstest"
)

// primaryTypes are the events the workload's model predicts one of per
// operation; the others (write, close_write, ...) are checked by
// comparing every stream with the host's own.
var primaryTypes = []string{"mkdir", "create", "rename", "chmod", "remove"}

// hostWorkload makes n random changes through m in the directory named
// after its host, ending with the marker mkdir HOST/done, and returns
// the primary events the model expects, in order. pause, if set, is
// called before each operation (a fault may be injected there).
func hostWorkload(t *testing.T, m *mount, host string, n int, seed int64, pause func(i int)) []string {
	r := rand.New(rand.NewSource(seed))
	var want, files []string
	do := func(err error) {
		if err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	do(os.Mkdir(m.path(host), 0o755))
	want = append(want, "mkdir "+host)
	next := 0
	name := func(prefix string) string { next++; return fmt.Sprintf("%s/%s%d", host, prefix, next) }
	for i := range n {
		if pause != nil {
			pause(i)
		}
		k := r.Intn(6)
		if len(files) == 0 {
			k = 0
		}
		pick := r.Intn(max(len(files), 1))
		switch k {
		case 0:
			f := name("f")
			do(os.WriteFile(m.path(f), []byte(strings.Repeat("x", 1+r.Intn(300))), 0o644))
			files = append(files, f)
			want = append(want, "create "+f)
		case 1:
			to := name("r")
			do(os.Rename(m.path(files[pick]), m.path(to)))
			want = append(want, "rename "+to+" <- "+files[pick])
			files[pick] = to
		case 2:
			do(os.Chmod(m.path(files[pick]), 0o600))
			want = append(want, "chmod "+files[pick])
		case 3:
			do(os.Remove(m.path(files[pick])))
			want = append(want, "remove "+files[pick])
			files = slices.Delete(files, pick, pick+1)
		case 4:
			f, err := os.OpenFile(m.path(files[pick]), os.O_WRONLY|os.O_APPEND, 0)
			do(err)
			if err == nil {
				_, err = f.WriteString("appended")
				do(err)
				do(f.Close())
			}
		case 5:
			d := name("d")
			do(os.Mkdir(m.path(d), 0o755))
			want = append(want, "mkdir "+d)
		}
	}
	do(os.Mkdir(m.path(host+"/done"), 0o755))
	return append(want, "mkdir "+host+"/done")
}

// runHosts runs every host's workload at once and returns each host's
// model.
func runHosts(t *testing.T, ms []*mount, n int, pause func(host, i int)) map[string][]string {
	models := make([]map[string][]string, len(ms))
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p func(int)
			if pause != nil {
				p = func(k int) { pause(i, k) }
			}
			h := fmt.Sprintf("h%d", i+1)
			models[i] = map[string][]string{h: hostWorkload(t, m, h, n, int64(i+1), p)}
		}()
	}
	wg.Wait()
	out := map[string][]string{}
	for _, mm := range models {
		for h, w := range mm {
			out[h] = w
		}
	}
	return out
}

// checkShare waits until every stream has every host's changes and
// checks the promises: each change exactly once in every stream, as
// mount where it was made and remote elsewhere, never again as backing;
// each host's events in its order everywhere; every mount's view of the
// tree equal to SOURCE.
func checkShare(t *testing.T, src string, ms []*mount, ss []*hostStream, models map[string][]string) {
	t.Helper()
	checkShareExcept(t, src, ms, ss, models, nil)
}

// checkShareExcept is checkShare where the names ignore says are left
// out of the streams and the trees: objects SOURCE's own file system
// makes by itself.
func checkShareExcept(t *testing.T, src string, ms []*mount, ss []*hostStream, models map[string][]string, ignore func(name string) bool) {
	t.Helper()
	var names []string
	for h := range models {
		names = append(names, h)
	}
	slices.Sort(names)
	for _, s := range ss {
		s.until("every host's marker", sawDone(names...))
		s.sync()
	}
	streams := make([][]event.Event, len(ss))
	for i, s := range ss {
		streams[i] = slices.DeleteFunc(slices.Clone(s.all), func(e event.Event) bool {
			return ignore != nil && (ignore(path.Base(e.Path)) || e.From != "" && ignore(path.Base(e.From)))
		})
	}
	own := map[string][]string{}
	for i := range ss {
		own[fmt.Sprintf("h%d", i+1)], _ = ofHost(streams[i], fmt.Sprintf("h%d", i+1))
	}
	for i := range ss {
		me := fmt.Sprintf("h%d", i+1)
		for _, e := range streams[i] {
			if e.Origin == event.OriginBacking {
				t.Errorf("%s: a change reported again by the watcher: %s", me, e.AppendText(nil))
			}
		}
		for _, h := range names {
			lines, origins := ofHost(streams[i], h)
			var primary []string
			for _, l := range lines {
				if slices.Contains(primaryTypes, strings.SplitN(l, " ", 2)[0]) {
					primary = append(primary, l)
				}
			}
			if d := firstDiff(primary, models[h]); d != "" {
				t.Errorf("%s's stream, %s's changes against the model: %s", me, h, d)
			}
			if d := firstDiff(lines, own[h]); d != "" {
				t.Errorf("%s's stream, %s's changes against %s's own stream: %s", me, h, h, d)
			}
			want := "remote"
			if h == me {
				want = "mount"
			}
			if len(origins) != 1 || origins[want] == 0 {
				t.Errorf("%s's stream: %s's changes have origins %v, want all %s", me, h, origins, want)
			}
		}
	}
	tree := func(root string) []string {
		return slices.DeleteFunc(treeOf(t, root), func(l string) bool {
			return ignore != nil && ignore(path.Base(strings.Fields(l)[0]))
		})
	}
	ref := tree(src)
	for i, m := range ms {
		if d := firstDiff(tree(m.mnt), ref); d != "" {
			t.Errorf("h%d's view of the tree against SOURCE: %s", i+1, d)
		}
	}
}

// firstDiff describes where two lists first differ ("" if equal).
func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("at %d of %d/%d: got %q, want %q", i, len(got), len(want), g, w)
		}
	}
	return ""
}

// Two hosts on one NATS node: a concurrent workload through both.
func TestClusterTwoHostsExactlyOnce(t *testing.T) {
	requireFuse(t)
	srv := natstest.Run(t)
	src, ms, ss := hosts(t, srv.URL, 2)
	models := runHosts(t, ms, 150, nil)
	checkShare(t, src, ms, ss, models)
	explain(t, ms, ss)
}

func dumpStream(t *testing.T, s *hostStream, from, to int) {
	for _, e := range s.all {
		if int(e.Seq) >= from && int(e.Seq) <= to {
			t.Logf("%s %s", s.m.mnt, e.AppendText(nil))
		}
	}
}

// explain logs what helps to understand a failed check: each node's
// figures and the events around each second report.
func explain(t *testing.T, ms []*mount, ss []*hostStream) {
	if !t.Failed() {
		return
	}
	for _, m := range ms {
		t.Logf("%+v", *m.d.Cluster().Stats())
	}
	for _, s := range ss {
		for _, e := range s.all {
			if e.Origin == event.OriginBacking {
				dumpStream(t, s, int(e.Seq)-3, int(e.Seq)+3)
				// Every stream's story of that file, by its names.
				names := map[string]bool{e.Path: true}
				for _, s2 := range ss {
					for _, e2 := range s2.all {
						if names[e2.Path] && e2.From != "" {
							names[e2.From] = true
						}
					}
				}
				for _, s2 := range ss {
					for _, e2 := range s2.all {
						if names[e2.Path] || names[e2.From] {
							t.Logf("  %s %s", s2.m.mnt, e2.AppendText(nil))
						}
					}
				}
			}
		}
	}
}

// Three hosts on a three-node JetStream cluster (stream R3); the node
// leading the stream is killed a third of the way into the workload.
func TestClusterThreeNodesOneKilled(t *testing.T) {
	requireFuse(t)
	nodes := natstest.Cluster(t, 3)
	src, ms, ss := hosts(t, natstest.URLs(nodes), 3, replicas(3))
	stream := cluster.StreamName(shareName(t))
	var killed string
	models := runHosts(t, ms, 120, func(host, i int) {
		if host == 0 && i == 40 {
			if l := natstest.StreamLeader(nodes, "$G", stream); l != nil {
				killed = l.Name()
				t.Logf("killing %s at %s", killed, time.Now().Format("15:04:05.000000"))
				l.Stop()
			}
		}
	})
	if killed == "" {
		t.Fatal("no stream leader to kill")
	}
	checkShare(t, src, ms, ss, models)
	explain(t, ms, ss)
}

// All of NATS down for 10 s in the middle of the workload: the mounts go
// on at full speed, the status says so, and everything arrives once
// afterwards.
func TestClusterNATSDownThenBack(t *testing.T) {
	requireFuse(t)
	srv := natstest.Run(t)
	src, ms, ss := hosts(t, srv.URL, 2)
	var down time.Time
	models := runHosts(t, ms, 120, func(host, i int) {
		if host == 0 && i == 40 {
			srv.Stop()
			down = time.Now()
		}
	})
	st := ms[0].d.Cluster().Stats()
	if st.Connection == "connected" || st.Backlog == 0 {
		t.Errorf("NATS down: status %+v, want not connected with a backlog", *st)
	}
	<-time.After(10*time.Second - time.Since(down)) // the outage lasts 10 s
	srv.Start(t)
	checkShare(t, src, ms, ss, models)
	explain(t, ms, ss)
}

// One of three hosts goes for good: the other two go on, nobody waits
// for it.
func TestClusterHostGoneForGood(t *testing.T) {
	requireFuse(t)
	srv := natstest.Run(t)
	src, ms, ss := hosts(t, srv.URL, 3)
	ms[2].close(t)
	models := runHosts(t, ms[:2], 80, nil)
	checkShare(t, src, ms[:2], ss[:2], models)
	explain(t, ms[:2], ss[:2])
}
