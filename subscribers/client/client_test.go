package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers"
	"github.com/notifyfs/notifyfs/subscribers/client"
)

// timeout bounds each wait, so that a bug fails with a message instead of
// hanging; it is never used to let something happen.
const timeout = 30 * time.Second

type env struct {
	bus  *eventbus.Bus
	srv  *subscribers.Server
	path string
}

func start(t *testing.T, bopts eventbus.Options) *env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	bus := eventbus.New(bopts)
	srv, err := subscribers.Listen(bus, subscribers.Info{MountPoint: "/mnt", Source: "/src", Backend: "test"}, subscribers.Options{SocketPath: path})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve()
	}()
	t.Cleanup(func() {
		bus.Close()
		srv.Close()
		<-served
	})
	return &env{bus: bus, srv: srv, path: path}
}

func (e *env) publish(n int, typ eventbus.Type, dir string) {
	for i := 0; i < n; i++ {
		e.bus.Publish(&eventbus.Event{Type: typ, Path: dir + "/f" + strconv.Itoa(i)})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return c
}

func dial(t *testing.T, e *env) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx(t), e.path)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receive takes n events from the channel, failing if it closes first.
func receive(t *testing.T, c *client.Client, n int) []eventbus.Event {
	t.Helper()
	out := make([]eventbus.Event, 0, n)
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for len(out) < n {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("Events closed after %d of %d events: %v", len(out), n, c.Err())
			}
			out = append(out, e)
		case <-timer.C:
			t.Fatalf("only %d of %d events arrived", len(out), n)
		}
	}
	return out
}

// drainNow takes what is in the channel right now, without waiting.
func drainNow(c *client.Client) []eventbus.Event {
	var out []eventbus.Event
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				return out
			}
			out = append(out, e)
		default:
			return out
		}
	}
}

func checkRun(t *testing.T, evs []eventbus.Event, from uint64) {
	t.Helper()
	for i, e := range evs {
		if e.Seq != from+uint64(i) {
			t.Fatalf("event %d has seq %d, want %d", i, e.Seq, from+uint64(i))
		}
	}
}

func TestHello(t *testing.T) {
	e := start(t, eventbus.Options{Epoch: "ep"})
	e.publish(2, eventbus.Create, "d")
	h := dial(t, e).Hello()
	if h.Protocol != 1 || h.Epoch != "ep" || h.Seq != 2 || h.Mount != "/mnt" || h.Source != "/src" || h.Server != "notifyfs" || h.Pid == 0 {
		t.Fatalf("hello %+v", h)
	}
}

func TestSubscribeSyncEvents(t *testing.T) {
	e := start(t, eventbus.Options{})
	e.publish(3, eventbus.Create, "d")
	c := dial(t, e)
	r, err := c.Subscribe(ctx(t), client.SubscribeRequest{Types: []string{"create", "mkdir"}, Paths: []string{"d"}, Name: "t"})
	if err != nil || r.Seq != 3 || r.Epoch != e.bus.Epoch() {
		t.Fatalf("Subscribe = %+v, %v", r, err)
	}
	e.publish(10, eventbus.Create, "d")
	e.publish(10, eventbus.Write, "d")  // other type
	e.publish(10, eventbus.Create, "x") // other path
	seq, err := c.Sync(ctx(t))
	if err != nil || seq != 33 {
		t.Fatalf("Sync = %d, %v", seq, err)
	}
	// Sync's promise: the events are there without waiting.
	evs := drainNow(c)
	if len(evs) != 10 {
		t.Fatalf("got %d events right after Sync, want 10", len(evs))
	}
	checkRun(t, evs, 4)
	if evs[0].Type != eventbus.Create || evs[0].Path != "d/f0" {
		t.Fatalf("first event %+v", evs[0])
	}
}

// TestSyncWithoutDraining: far more events than the channel holds, and
// nobody receiving: Sync must still return, with everything queued.
func TestSyncWithoutDraining(t *testing.T) {
	e := start(t, eventbus.Options{})
	c := dial(t, e)
	if _, err := c.Subscribe(ctx(t), client.SubscribeRequest{}); err != nil {
		t.Fatal(err)
	}
	const n = 50000
	e.publish(n, eventbus.Write, "d")
	seq, err := c.Sync(ctx(t))
	if err != nil || seq != n {
		t.Fatalf("Sync = %d, %v", seq, err)
	}
	checkRun(t, receive(t, c, n), 1)
	if more := drainNow(c); len(more) != 0 {
		t.Fatalf("%d extra events", len(more))
	}
}

func TestResumeFromCursor(t *testing.T) {
	e := start(t, eventbus.Options{})
	e.publish(100, eventbus.Write, "d")
	c := dial(t, e)
	if _, err := c.Subscribe(ctx(t), client.SubscribeRequest{Since: &eventbus.Cursor{Epoch: e.bus.Epoch(), Seq: 90}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
	evs := drainNow(c)
	if len(evs) != 10 {
		t.Fatalf("got %d events", len(evs))
	}
	checkRun(t, evs, 91)

	c2 := dial(t, e)
	if _, err := c2.Subscribe(ctx(t), client.SubscribeRequest{Since: &eventbus.Cursor{Seq: 99}}); err != nil {
		t.Fatal(err)
	}
	c2.Sync(ctx(t))
	if evs := drainNow(c2); len(evs) != 1 || evs[0].Seq != 100 {
		t.Fatalf("bare seq cursor: %+v", evs)
	}
}

func TestServerErrors(t *testing.T) {
	e := start(t, eventbus.Options{})
	c := dial(t, e)
	var se *client.ServerError
	err := c.Unsubscribe(ctx(t))
	if !errors.As(err, &se) || se.Code != "not_subscribed" || se.Op != "unsubscribe" {
		t.Fatalf("Unsubscribe without subscription: %v", err)
	}
	_, err = c.Subscribe(ctx(t), client.SubscribeRequest{Types: []string{"create", "nonsense"}})
	if !errors.As(err, &se) || se.Code != "unknown_type" {
		t.Fatalf("bad type: %v", err)
	}
	if _, err := c.Subscribe(ctx(t), client.SubscribeRequest{}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Subscribe(ctx(t), client.SubscribeRequest{})
	if !errors.As(err, &se) || se.Code != "already_subscribed" {
		t.Fatalf("second subscribe: %v", err)
	}
	if err := c.Unsubscribe(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// The connection survived all of it.
	if _, err := c.Sync(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestStatus(t *testing.T) {
	e := start(t, eventbus.Options{})
	e.publish(5, eventbus.Write, "d")
	c := dial(t, e)
	c.Subscribe(ctx(t), client.SubscribeRequest{Name: "me"})
	st, err := c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st["seq"] != json.Number("5") || st["backend"] != "test" || st["epoch"] != e.bus.Epoch() {
		t.Fatalf("status %v", st)
	}
	subs := st["subscribers"].([]any)
	if len(subs) != 1 || subs[0].(map[string]any)["name"] != "me" {
		t.Fatalf("subscribers %v", subs)
	}
}

func TestConcurrentRequests(t *testing.T) {
	e := start(t, eventbus.Options{})
	c := dial(t, e)
	c.Subscribe(ctx(t), client.SubscribeRequest{})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				e.bus.Publish(&eventbus.Event{Type: eventbus.Write, Path: "p"})
				if _, err := c.Sync(ctx(t)); err != nil {
					errs <- err
					return
				}
				if _, err := c.Status(ctx(t)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seq, _ := c.Sync(ctx(t))
	checkRun(t, receive(t, c, int(seq)), 1)
}

func TestBusCloseEndsStream(t *testing.T) {
	e := start(t, eventbus.Options{})
	c := dial(t, e)
	c.Subscribe(ctx(t), client.SubscribeRequest{})
	e.publish(3, eventbus.Create, "d")
	e.bus.Close()
	evs := receive(t, c, 4)
	if evs[3].Type != eventbus.Unmount {
		t.Fatalf("last event %+v", evs[3])
	}
	select {
	case ev, ok := <-c.Events():
		if ok {
			t.Fatalf("event after unmount: %+v", ev)
		}
	case <-time.After(timeout):
		t.Fatal("Events not closed")
	}
	if err := c.Err(); !errors.Is(err, io.EOF) {
		t.Fatalf("Err = %v, want EOF", err)
	}
	if _, err := c.Sync(ctx(t)); err == nil {
		t.Fatal("Sync on a closed connection succeeded")
	}
}

func TestCloseDiscardsAndClosesEvents(t *testing.T) {
	e := start(t, eventbus.Options{})
	c := dial(t, e)
	c.Subscribe(ctx(t), client.SubscribeRequest{})
	e.publish(5000, eventbus.Create, "d")
	c.Sync(ctx(t))
	if c.Err() != nil {
		t.Fatalf("Err on an open client: %v", c.Err())
	}
	c.Close()
	n := 0
	for range c.Events() { // must end
		n++
	}
	if n > 5000 {
		t.Fatalf("%d events", n)
	}
	if !errors.Is(c.Err(), client.ErrClosed) {
		t.Fatalf("Err = %v", c.Err())
	}
	if _, err := c.Sync(ctx(t)); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCanceledContext(t *testing.T) {
	e := start(t, eventbus.Options{})
	c := dial(t, e)
	cx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Sync(cx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sync with canceled context: %v", err)
	}
	if _, err := c.Sync(ctx(t)); err != nil {
		t.Fatalf("connection broken by a canceled request: %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := client.Dial(ctx(t), filepath.Join(dir, "none")); err == nil {
		t.Fatal("Dial to nothing succeeded")
	}

	// Something that is not notifyfs.
	path := filepath.Join(dir, "other")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			nc.Write([]byte("220 SMTP here\n"))
			defer nc.Close()
		}
	}()
	if _, err := client.Dial(ctx(t), path); err == nil {
		t.Fatal("Dial to a foreign server succeeded")
	}

	// Something that never says hello: the context decides.
	silent := filepath.Join(dir, "silent")
	ln2, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	defer ln2.Close()
	cx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := client.Dial(cx, silent); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial to a silent server: %v", err)
	}
}

// Batch reaches the server: with a long delay nothing arrives until a
// Sync, which then brings every held event at once.
func TestSubscribeBatch(t *testing.T) {
	e := start(t, eventbus.Options{})
	c := dial(t, e)
	r, err := c.Subscribe(ctx(t), client.SubscribeRequest{Batch: 10 * time.Second})
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	e.publish(20, eventbus.Create, "d")
	select {
	case ev := <-c.Events():
		t.Fatalf("event %d delivered before its batch was due", ev.Seq)
	case <-time.After(300 * time.Millisecond):
	}
	if _, err := c.Sync(ctx(t)); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	evs := drainNow(c)
	if len(evs) != 20 {
		t.Fatalf("got %d events right after Sync, want 20", len(evs))
	}
	checkRun(t, evs, r.Seq+1)
}
