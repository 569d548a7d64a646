package subscribers

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// subscribeBatch starts a server and a client subscribed to everything
// with the batching delay given; start is the seq it subscribed at.
func subscribeBatch(t *testing.T, delay string) (ts *testServer, c *tclient, start uint64) {
	t.Helper()
	ts = startServer(t, eventbus.Options{}, Options{})
	c = dial(t, ts.path)
	_, r := c.call("subscribe", `"batch":"`+delay+`"`)
	mustOK(t, r)
	return ts, c, num(t, r["seq"])
}

// With "batch", events wait at the server until the delay is up: a
// subscriber asking for 10s gets nothing for a while, and a sync then
// brings every held event, in order, before its reply.
func TestBatchHoldsEventsUntilSync(t *testing.T) {
	ts, c, start := subscribeBatch(t, "10s")
	ts.publish(100, eventbus.Create, "d")

	c.nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var ne net.Error
	if b, err := c.br.ReadBytes('\n'); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("an event was written before its batch was due: %q (%v)", b, err)
	}
	evs, r := c.call("sync", "")
	mustOK(t, r)
	checkRun(t, evs, start+1, start+100)
}

// A held batch is written when its delay is up, without any request.
func TestBatchWrittenWhenDue(t *testing.T) {
	ts, c, start := subscribeBatch(t, "20ms")
	for round := 0; round < 3; round++ {
		ts.publish(50, eventbus.Create, "d")
		var evs []eventbus.Event
		for len(evs) < 50 {
			b, err := c.line()
			if err != nil {
				t.Fatalf("round %d: after %d events: %v", round, len(evs), err)
			}
			var e eventbus.Event
			if err := e.UnmarshalJSON(b); err != nil {
				t.Fatalf("bad event %q: %v", b, err)
			}
			evs = append(evs, e)
		}
		first := start + uint64(round*50) + 1
		checkRun(t, evs, first, first+49)
	}
}

// Shutting down writes what a batch holds, then the unmount event.
func TestBatchDrainedOnClose(t *testing.T) {
	ts, c, _ := subscribeBatch(t, "10s")
	ts.publish(20, eventbus.Create, "d")
	ts.bus.Close()
	if err := ts.srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var got []string
	for {
		b, err := c.line()
		if err != nil {
			break
		}
		got = append(got, string(b))
	}
	if len(got) != 21 || !strings.Contains(got[20], `"type":"unmount"`) {
		t.Fatalf("got %d lines after close, want 20 events and unmount (last: %q)", len(got), got[len(got)-1:])
	}
	if err := <-ts.serve; err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
	ts.serve <- nil // for the cleanup
}

// "batch" outside 0–10s, or not a duration, is refused.
func TestBatchBadValues(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	for _, v := range []string{`"-1ms"`, `"11s"`, `"soon"`, `true`} {
		c := dial(t, ts.path)
		_, r := c.call("subscribe", `"batch":`+v)
		if r["ok"] == true || r["code"] != "bad_request" {
			t.Errorf("batch %s: %v, want bad_request", v, r)
		}
	}
}
