package subscribers

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

func TestHello(t *testing.T) {
	ts := startServer(t, eventbus.Options{Epoch: "e1"}, Options{})
	ts.publish(3, eventbus.Create, "d")
	c := dial(t, ts.path)
	h := c.hello
	if num(t, h["protocol"]) != 1 || h["epoch"] != "e1" || num(t, h["seq"]) != 3 ||
		h["mount"] != "/mnt/x" || h["source"] != "/src/x" || h["server"] != "notifyfs" ||
		num(t, h["pid"]) != uint64(os.Getpid()) {
		t.Fatalf("hello = %v", h)
	}
}

func TestSubscribeReceivesEventsInOrder(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	ts.publish(5, eventbus.Create, "before") // not delivered: subscription starts "now"
	c := dial(t, ts.path)
	evs, r := c.call("subscribe", `"name":"t"`)
	mustOK(t, r)
	if len(evs) != 0 || num(t, r["seq"]) != 5 || r["epoch"] != ts.bus.Epoch() {
		t.Fatalf("subscribe reply %v after %d events", r, len(evs))
	}
	ts.publish(100, eventbus.Write, "d")
	evs, r = c.call("sync", "")
	mustOK(t, r)
	checkRun(t, evs, 6, 105)
	if num(t, r["seq"]) != 105 {
		t.Fatalf("sync seq = %v, want 105", r["seq"])
	}
	for i, e := range evs {
		if e.Type != eventbus.Write || e.Path != "d/f"+strconv.Itoa(i) || e.Origin != eventbus.OriginMount {
			t.Fatalf("event %d = %+v", i, e)
		}
	}
}

func TestFilters(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	byType := dial(t, ts.path)
	_, r := byType.call("subscribe", `"types":["create","remove","rename"],"paths":["a"]`)
	mustOK(t, r)
	opens := dial(t, ts.path)
	_, r = opens.call("subscribe", `"types":["open"]`)
	mustOK(t, r)
	all := dial(t, ts.path)
	_, r = all.call("subscribe", `"globs":["**/*.go"],"excludes":["vendor"]`)
	mustOK(t, r)

	pub := func(typ eventbus.Type, path, from string) {
		ts.bus.Publish(&eventbus.Event{Type: typ, Path: path, From: from})
	}
	pub(eventbus.Create, "a/x", "")        // 1: byType
	pub(eventbus.Write, "a/x", "")         // 2: nobody (type)
	pub(eventbus.Create, "ab/y", "")       // 3: nobody ("ab" is not under "a")
	pub(eventbus.Open, "a/x", "")          // 4: opens only (opt-in)
	pub(eventbus.Rename, "c/z", "a/z")     // 5: byType (from is under a)
	pub(eventbus.Create, "src/m.go", "")   // 6: all
	pub(eventbus.Write, "vendor/v.go", "") // 7: nobody (excluded)
	pub(eventbus.Remove, "a/x", "")        // 8: byType
	pub(eventbus.Rescan, "q", "")          // 9: everybody (stream control)

	for _, tc := range []struct {
		name string
		c    *tclient
		want []uint64
	}{
		{"types+paths", byType, []uint64{1, 5, 8, 9}},
		{"opt-in", opens, []uint64{4, 9}},
		{"globs+excludes", all, []uint64{6, 9}},
	} {
		evs, r := tc.c.call("sync", "")
		mustOK(t, r)
		if got := seqs(evs); !equal(got, tc.want) {
			t.Errorf("%s: got seqs %v, want %v", tc.name, got, tc.want)
		}
	}
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestSyncBarrier uses a tiny live queue so that the subscription spends
// most of its time reading the ring: the barrier must hold on that path
// too, and while events keep being published.
func TestSyncBarrier(t *testing.T) {
	ts := startServer(t, eventbus.Options{QueueSize: 16}, Options{})
	c := dial(t, ts.path)
	_, r := c.call("subscribe", "")
	mustOK(t, r)
	ts.publish(5000, eventbus.Write, "d")
	evs, r := c.call("sync", "")
	mustOK(t, r)
	checkRun(t, evs, 1, 5000)
	if num(t, r["seq"]) != 5000 {
		t.Fatalf("sync seq %v", r["seq"])
	}

	// With a concurrent publisher: every event up to the returned seq
	// must have arrived before the reply. The publisher stops well
	// within the ring, so that nothing is lost to overflow.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 10000; i++ {
			select {
			case <-stop:
				return
			default:
				ts.publish(10, eventbus.Write, "e")
			}
		}
	}()
	next := uint64(5001)
	for i := 0; i < 20; i++ {
		evs, r := c.call("sync", "")
		mustOK(t, r)
		target := num(t, r["seq"])
		for _, e := range evs {
			if e.Seq != next {
				t.Fatalf("got seq %d, want %d", e.Seq, next)
			}
			next++
		}
		if next <= target {
			t.Fatalf("sync returned %d but only events up to %d arrived before it", target, next-1)
		}
	}
	close(stop)
	<-done
}

func TestSyncWithoutSubscription(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	ts.publish(7, eventbus.Create, "d")
	c := dial(t, ts.path)
	evs, r := c.call("sync", "")
	mustOK(t, r)
	if len(evs) != 0 || num(t, r["seq"]) != 7 {
		t.Fatalf("sync: %v, %d events", r, len(evs))
	}
}

// TestSinceResume resumes from a cursor while another goroutine keeps
// publishing: the stream must continue right after the cursor with no
// gap and no duplicate at the seam between ring and live queue.
func TestSinceResume(t *testing.T) {
	ts := startServer(t, eventbus.Options{QueueSize: 64}, Options{})
	ts.publish(1000, eventbus.Write, "d")

	published := make(chan struct{})
	go func() {
		defer close(published)
		ts.publish(20000, eventbus.Write, "e")
	}()
	c := dial(t, ts.path)
	_, r := c.call("subscribe", `"since":{"epoch":"`+ts.bus.Epoch()+`","seq":500}`)
	mustOK(t, r)
	<-published
	evs, r := c.call("sync", "")
	mustOK(t, r)
	checkRun(t, evs, 501, 21000)

	// A bare number means this epoch; "epoch" may come separately.
	for _, since := range []string{`"since":20990`, `"since":"20990"`, `"since":20990,"epoch":"` + ts.bus.Epoch() + `"`} {
		c := dial(t, ts.path)
		_, r := c.call("subscribe", since)
		mustOK(t, r)
		evs, r := c.call("sync", "")
		mustOK(t, r)
		checkRun(t, evs, 20991, 21000)
	}
}

func TestSinceOtherEpochGetsReset(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	ts.publish(10, eventbus.Write, "d")
	c := dial(t, ts.path)
	_, r := c.call("subscribe", `"since":{"epoch":"gone","seq":3}`)
	mustOK(t, r)
	ts.publish(1, eventbus.Write, "d")
	evs, _ := c.call("sync", "")
	if len(evs) != 2 || evs[0].Type != eventbus.Reset || evs[0].Epoch != ts.bus.Epoch() || evs[1].Seq != 11 {
		t.Fatalf("got %+v", evs)
	}
}

func TestMalformedRequests(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	c := dial(t, ts.path)
	for _, tc := range []struct {
		line, code, mention string
	}{
		{`not json`, wire.CodeBadJSON, "invalid JSON"},
		{`{"id":1,"op":"sync"`, wire.CodeBadJSON, "invalid JSON"},
		{`[1,2]`, wire.CodeBadRequest, "JSON object"},
		{`null`, wire.CodeBadRequest, "JSON object"},
		{`{"id":1}`, wire.CodeBadRequest, `"op"`},
		{`{"id":1,"op":5}`, wire.CodeBadRequest, `"op"`},
		{`{"id":{"a":1},"op":"sync"}`, wire.CodeBadRequest, `"id"`},
		{`{"id":1,"op":"frobnicate"}`, wire.CodeUnknownOp, "frobnicate"},
		{`{"id":1,"op":"sync","extra":1}`, wire.CodeBadRequest, "extra"},
		{`{"id":1,"op":"subscribe","types":["create","bogus"]}`, wire.CodeUnknownType, "bogus"},
		{`{"id":1,"op":"subscribe","types":"create"}`, wire.CodeBadRequest, "types"},
		{`{"id":1,"op":"subscribe","paths":"a"}`, wire.CodeBadRequest, "paths"},
		{`{"id":1,"op":"subscribe","globs":["[x"]}`, wire.CodeBadPattern, "[x"},
		{`{"id":1,"op":"subscribe","globs":["**/a/**/b/**"]}`, wire.CodeBadPattern, "**"},
		{`{"id":1,"op":"subscribe","since":-1}`, wire.CodeBadRequest, "since"},
		{`{"id":1,"op":"subscribe","since":1.5}`, wire.CodeBadRequest, "since"},
		{`{"id":1,"op":"subscribe","since":"yesterday"}`, wire.CodeBadRequest, "yesterday"},
		{`{"id":1,"op":"subscribe","since":{"seq":"x"}}`, wire.CodeBadRequest, "since"},
		{`{"id":1,"op":"subscribe","since":{"epoch":"a","seq":1},"epoch":"b"}`, wire.CodeBadRequest, "contradicts"},
		{`{"id":1,"op":"subscribe","name":7}`, wire.CodeBadRequest, "name"},
		{`{"id":1,"op":"unsubscribe"}`, wire.CodeNotSubscribed, "not subscribed"},
		{"\x00\xff\xfe garbage", wire.CodeBadJSON, "invalid JSON"},
	} {
		c.send(tc.line)
		m := c.msg()
		msg, _ := m["error"].(string)
		if m["ok"] != false || m["code"] != tc.code || !strings.Contains(msg, tc.mention) {
			t.Errorf("%s: got %v, want code %s mentioning %q", tc.line, m, tc.code, tc.mention)
		}
		if _, ok := m["op"]; !ok {
			t.Errorf("%s: error reply without op: %v", tc.line, m)
		}
	}
	// Still working afterwards.
	_, r := c.call("subscribe", "")
	mustOK(t, r)
	ts.publish(3, eventbus.Create, "d")
	evs, r := c.call("sync", "")
	mustOK(t, r)
	checkRun(t, evs, 1, 3)
}

func TestIDEchoedVerbatim(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	c := dial(t, ts.path)
	for _, id := range []string{`"abc"`, `1.50`, `-3`, `null`, `"x\"y"`, `18446744073709551616`} {
		c.send(`{"op":"sync","id":` + id + `}`)
		b, err := c.line()
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"op":"sync","id":` + id + `,"ok":true,`; !strings.HasPrefix(string(b), want) {
			t.Errorf("reply %s, want prefix %s", b, want)
		}
	}
	c.send(`{"op":"sync"}`) // no id: null
	if b, _ := c.line(); !strings.HasPrefix(string(b), `{"op":"sync","id":null,"ok":true`) {
		t.Errorf("reply %s", b)
	}
}

func TestOneSubscriptionPerConnection(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	c := dial(t, ts.path)
	_, r := c.call("subscribe", "")
	mustOK(t, r)
	_, r = c.call("subscribe", "")
	if r["ok"] != false || r["code"] != wire.CodeAlreadySubscribed {
		t.Fatalf("second subscribe: %v", r)
	}
	ts.publish(2, eventbus.Create, "d")
	evs, r := c.call("unsubscribe", "")
	mustOK(t, r)
	checkRun(t, evs, 1, 2) // taken before the unsubscribe was handled
	ts.publish(2, eventbus.Create, "d")
	evs, r = c.call("sync", "")
	mustOK(t, r)
	if len(evs) != 0 {
		t.Fatalf("events after unsubscribe: %v", seqs(evs))
	}
	if st := ts.bus.Stats(); len(st.Subscribers) != 0 {
		t.Fatalf("subscription still on the bus: %+v", st.Subscribers)
	}
	_, r = c.call("subscribe", `"since":3`)
	mustOK(t, r)
	evs, _ = c.call("sync", "")
	checkRun(t, evs, 4, 4)
}

func TestOverlongLineClosesOnlyThatConnection(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	good := dial(t, ts.path)
	_, r := good.call("subscribe", "")
	mustOK(t, r)

	bad := dial(t, ts.path)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		// The server stops reading after MaxLine, so the rest of this
		// write may fail; only the reply matters.
		bad.nc.Write([]byte(`{"id":1,"op":"sync","pad":"` + strings.Repeat("x", 1<<20) + "\"}\n"))
	}()
	m := bad.msg()
	if m["ok"] != false || m["code"] != wire.CodeLineTooLong {
		t.Fatalf("got %v", m)
	}
	bad.expectEnd()
	bad.nc.Close()
	<-wrote

	ts.publish(10, eventbus.Create, "d")
	evs, r := good.call("sync", "")
	mustOK(t, r)
	checkRun(t, evs, 1, 10)
}

func TestLineJustUnderLimitIsFine(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{MaxLine: 1000})
	c := dial(t, ts.path)
	line := `{"id":1,"op":"subscribe","name":"`
	line += strings.Repeat("n", 200) + `","paths":["` + strings.Repeat("p", 1000-len(line)-200-len(`","paths":["`)-3) + `"]}`
	if len(line) != 1000 {
		t.Fatalf("test line is %d bytes", len(line))
	}
	c.send(line + "\r") // CRLF is accepted
	_, r := c.until(1)
	mustOK(t, r)
}

func TestBusCloseDeliversUnmountThenEOF(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	c := dial(t, ts.path)
	_, r := c.call("subscribe", `"types":["create"]`)
	mustOK(t, r)
	ts.publish(10, eventbus.Create, "d")
	ts.bus.Close()
	var evs []eventbus.Event
	for {
		b, err := c.line()
		if err != nil {
			if len(b) != 0 {
				t.Fatalf("partial line %q", b)
			}
			break
		}
		var e eventbus.Event
		if err := e.UnmarshalJSON(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		evs = append(evs, e)
	}
	checkRun(t, evs, 1, 11)
	if evs[10].Type != eventbus.Unmount {
		t.Fatalf("last event %+v, want unmount", evs[10])
	}
	c.expectEnd()

	// A new subscription on a closed bus is refused politely.
	c2 := dial(t, ts.path)
	_, r = c2.call("subscribe", "")
	if r["ok"] != false || r["code"] != wire.CodeClosed {
		t.Fatalf("subscribe after close: %v", r)
	}
}

func TestHalfCloseGetsOwedReplies(t *testing.T) {
	ts := startServer(t, eventbus.Options{}, Options{})
	c := dial(t, ts.path)
	_, r := c.call("subscribe", "")
	mustOK(t, r)
	ts.publish(3, eventbus.Create, "d")
	c.send(`{"id":9,"op":"sync"}`)
	c.nc.CloseWrite()
	evs, r := c.until(9)
	mustOK(t, r)
	checkRun(t, evs, 1, 3)
	c.expectEnd()
}
