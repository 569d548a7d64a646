package subscribers

import (
	"bufio"
	"bytes"
	"strconv"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// TestClientThatNeverReads publishes a million events while one
// subscriber never reads its socket: Publish must not wait for it, and a
// subscriber that does read gets every event.
func TestClientThatNeverReads(t *testing.T) {
	if testing.Short() {
		t.Skip("publishes 1,000,000 events")
	}
	const n = 1_000_000
	// The ring holds every event, so that the reading client cannot lose
	// any even if the publisher outruns it: the point is the stuck one.
	ts := startServer(t, eventbus.Options{RingSize: n + 1024, RingBytes: 1 << 30}, Options{})

	stuck := dial(t, ts.path)
	_, r := stuck.call("subscribe", `"name":"stuck"`)
	mustOK(t, r)

	good := dial(t, ts.path)
	_, r = good.call("subscribe", `"name":"good"`)
	mustOK(t, r)
	got := make(chan uint64, 1)
	failed := make(chan string, 1)
	go func() {
		// Count by reading seqs straight off the wire: decoding a
		// million events under the race detector would dominate.
		br := bufio.NewReaderSize(good.nc, 1<<20)
		want := uint64(1)
		for {
			good.nc.SetReadDeadline(time.Now().Add(ioTimeout))
			line, err := br.ReadSlice('\n')
			if err != nil {
				failed <- "read: " + err.Error()
				return
			}
			if bytes.HasPrefix(line, []byte(`{"op":"sync"`)) {
				got <- want - 1
				return
			}
			rest, ok := bytes.CutPrefix(line, []byte(`{"seq":`))
			end := bytes.IndexByte(rest, ',')
			if !ok || end < 0 {
				failed <- "unexpected line " + string(line)
				return
			}
			seq, _ := strconv.ParseUint(string(rest[:end]), 10, 64)
			if seq != want {
				failed <- "got seq " + strconv.FormatUint(seq, 10) + ", want " + strconv.FormatUint(want, 10)
				return
			}
			want++
		}
	}()

	start := time.Now()
	ts.publish(n, eventbus.Write, "d")
	t.Logf("published %d events in %v with a stuck subscriber", n, time.Since(start))

	st := ts.bus.Stats()
	for _, s := range st.Subscribers {
		if s.Name == "stuck" && s.Position >= n {
			t.Errorf("the stuck subscriber was handed everything; it should be stuck: %+v", s)
		}
	}
	good.send(`{"id":1,"op":"sync"}`)
	select {
	case c := <-got:
		if c != n {
			t.Fatalf("good client got %d events, want %d", c, n)
		}
	case msg := <-failed:
		t.Fatal(msg)
	}
}

// connEnded returns a channel that receives the id of every connection
// that ends.
func connEnded(ts *testServer) <-chan uint64 {
	ch := make(chan uint64, 16)
	ts.srv.mu.Lock()
	ts.srv.testConnDone = func(id uint64) { ch <- id }
	ts.srv.mu.Unlock()
	return ch
}

func waitConnEnd(t *testing.T, ch <-chan uint64) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(ioTimeout):
		t.Fatal("connection did not end")
	}
}

// TestWriteTimeoutDisconnects: a client that stops reading is dropped
// once a write has been blocked for WriteTimeout, and its subscription
// leaves the bus.
func TestWriteTimeoutDisconnects(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{WriteTimeout: 50 * time.Millisecond})
	ended := connEnded(ts)
	stuck := dial(t, ts.path)
	_, r := stuck.call("subscribe", "")
	mustOK(t, r)
	ts.publish(100000, eventbus.Write, "a-directory-name-to-make-events-bigger") // far more than socket buffers hold
	waitConnEnd(t, ended)
	if st := ts.bus.Stats(); len(st.Subscribers) != 0 {
		t.Fatalf("subscription still there: %+v", st.Subscribers)
	}
}

// TestClientVanishesMidStream: the server notices, and carries on.
func TestClientVanishesMidStream(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	ended := connEnded(ts)
	gone := dial(t, ts.path)
	_, r := gone.call("subscribe", "")
	mustOK(t, r)
	ts.publish(1000, eventbus.Write, "d")
	gone.line() // mid-stream
	gone.nc.Close()
	ts.publish(100000, eventbus.Write, "d")
	waitConnEnd(t, ended)

	c := dial(t, ts.path)
	_, r = c.call("subscribe", "")
	mustOK(t, r)
	ts.publish(5, eventbus.Write, "d")
	evs, _ := c.call("sync", "")
	checkRun(t, evs, 101001, 101005)
}
