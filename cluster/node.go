package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/eventbus"
)

// Config connects a node to the rest of the daemon.
type Config struct {
	// Bus is the mount's event bus: the publisher reads it, the consumer
	// publishes other hosts' events on it.
	Bus *eventbus.Bus
	// Dir is the journal's directory, where the publisher's and the
	// consumer's positions are kept; "" (no journal) keeps none, and a
	// restart then publishes only new events and applies the stream
	// from its start.
	Dir string
	// Invalidate drops what the mount's kernel caches hold of a remote
	// event's paths; called before the event is published locally.
	Invalidate func(*event.Event)
	// ExpectRemote tells the underneath watcher that a remote event's
	// change is on the shared tree, so that it is not reported again.
	ExpectRemote func(*event.Event)
	// Logf receives notices (connection changes, skipped messages).
	Logf func(format string, args ...any)
}

// Node is one mount's membership in a share's cluster: a publisher of its
// events and a consumer of the others'.
type Node struct {
	opts Options
	cfg  Config
	nc   *nats.Conn

	js    atomic.Pointer[jetstream.JetStream] // set while connected and the stream exists
	state atomic.Value                        // string: connection state for status

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every connection change

	pub    *publisher
	cons   *consumer
	live   liveness
	recent *recentReports
	notes  *eventbus.Subscription
	noted  chan struct{}

	up     chan struct{} // closed once the gate first opens
	upOnce sync.Once

	stop         chan struct{}
	consumerStop chan struct{}
	pubDone      chan struct{}
	consDone     chan struct{}
	mgrDone      chan struct{}
	stopOnce     sync.Once
	consOnce     sync.Once
}

// Start joins the cluster. It never waits for NATS: the mount works while
// NATS is unreachable, and the node connects (and catches up) whenever it
// can. The publisher's position is taken at once, so no event the bus
// assigns after Start returns is missed.
func Start(opts Options, cfg Config) (*Node, error) {
	if err := opts.Validate(true); err != nil {
		return nil, err
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	n := &Node{
		opts: opts, cfg: cfg, changed: make(chan struct{}), up: make(chan struct{}),
		stop: make(chan struct{}), consumerStop: make(chan struct{}),
		pubDone: make(chan struct{}), consDone: make(chan struct{}), mgrDone: make(chan struct{}),
	}
	n.state.Store("connecting")
	n.pub = &publisher{n: n, file: newStateFile(cfg.Dir, publishedFile), subject: Subject(opts.Share, opts.Host)}
	n.cons = &consumer{n: n, file: newStateFile(cfg.Dir, appliedFile), recent: newIDSet(), start: time.Now()}
	n.recent, n.noted = newRecent(opts.EchoWindow), make(chan struct{})
	notes, err := cfg.Bus.Subscribe("cluster-reports", eventbus.Filter{Types: event.AllTypes}, nil)
	if err != nil {
		return nil, err
	}
	n.notes = notes
	if err := n.pub.position(); err != nil {
		notes.Close()
		return nil, err
	}
	if err := n.cons.recover(); err != nil {
		n.pub.sub.Close()
		notes.Close()
		return nil, err
	}
	// Disconnected, the stream may grow without this host: the watcher's
	// gate shuts until the consumer has caught up again.
	down := func() { n.cons.setCaughtUp(false) }
	nc, err := connect(&n.opts, "notifyfs "+opts.Share+"/"+opts.Host, n.signal, down)
	if err != nil {
		n.pub.sub.Close()
		notes.Close()
		return nil, err
	}
	go func() { defer close(n.noted); n.noteLocal(notes) }()
	n.nc = nc
	go func() { defer close(n.mgrDone); n.manage() }()
	go func() { defer close(n.pubDone); n.pub.run() }()
	go func() { defer close(n.consDone); n.cons.run() }()
	return n, nil
}

// position starts the publisher after the last acknowledged seq of this
// journal's epoch, or at the bus's current seq when there is no such
// record (a new journal, or none): what the mount did before it joined
// the cluster is not sent.
func (p *publisher) position() error {
	s, err := p.file.read()
	if err != nil {
		return err
	}
	b := p.n.cfg.Bus
	p.acked.Store(b.Seq())
	if c, err := event.ParseCursor(s); err == nil && c.Epoch == b.Epoch() && c.Seq <= b.Seq() {
		p.acked.Store(c.Seq)
	}
	return p.subscribe()
}

// Gate tells the underneath watcher whether a change it found at
// found may be published (kqshim.Config.HoldGate): once this host is
// connected with the stream read up to date, and every other live host
// has said that its outbox was drained at or after found, with this
// host's consumer past what that host had stored then. Until then the
// change could be another host's whose event has yet to arrive.
func (n *Node) Gate(found time.Time) bool {
	if n.jetStream() == nil || !n.cons.caughtUp.Load() {
		return false
	}
	n.upOnce.Do(func() { close(n.up) })
	return n.live.drainedPast(found, n.cons.applied.Load(), time.Now())
}

// Up is closed once the node has first been connected, with the stream
// in place and read up to date: from then on other hosts' events arrive
// as they are published.
func (n *Node) Up() <-chan struct{} {
	if n.jetStream() != nil && n.cons.caughtUp.Load() {
		n.upOnce.Do(func() { close(n.up) })
	}
	return n.up
}

// signal wakes whoever waits for a connection change.
func (n *Node) signal() {
	n.mu.Lock()
	close(n.changed)
	n.changed = make(chan struct{})
	n.mu.Unlock()
}

// waitChange waits for a connection change or a tick; false once the
// node stops.
func (n *Node) waitChange(tick <-chan time.Time, stop <-chan struct{}) bool {
	n.mu.Lock()
	ch := n.changed
	n.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-tick:
		return true
	case <-stop:
		return false
	}
}

// jetStream is the JetStream context while connected with the stream in
// place, else nil.
func (n *Node) jetStream() jetstream.JetStream {
	if p := n.js.Load(); p != nil && n.nc.IsConnected() {
		return *p
	}
	return nil
}

// manage makes sure the stream exists after every (re)connection.
func (n *Node) manage() {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	attempt := 0
	for {
		switch {
		case n.nc.IsConnected() && n.js.Load() == nil:
			js, err := jetstream.New(n.nc)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err = ensureStream(ctx, js, &n.opts)
				cancel()
			}
			if err != nil {
				n.state.Store("no stream: " + err.Error())
				if attempt == 0 {
					n.logf("cluster: stream %s: %v (retrying)", StreamName(n.opts.Share), err)
				}
				attempt++
				if !backoff(n.stop, attempt) {
					return
				}
				continue
			}
			if attempt > 0 {
				n.logf("cluster: stream %s ready", StreamName(n.opts.Share))
			}
			attempt = 0
			n.live.connected(time.Now())
			if err := n.live.listen(n.nc, n.opts.Share, n.opts.Host); err != nil {
				n.logf("cluster: %v", err)
			}
			n.js.Store(&js)
			n.state.Store("connected")
			n.signal()
		case !n.nc.IsConnected():
			if n.js.Load() != nil {
				n.logf("cluster: disconnected from NATS; the backlog waits in the journal")
			}
			n.js.Store(nil) // the stream is checked again on reconnection
			n.state.Store(n.nc.Status().String())
		}
		if !n.waitChange(tick.C, n.stop) {
			return
		}
	}
}

func (n *Node) logf(format string, args ...any) { n.cfg.Logf(format, args...) }

// StopConsuming stops applying other hosts' events; the daemon calls it
// before it closes the bus. The publisher goes on.
func (n *Node) StopConsuming() {
	n.consOnce.Do(func() { close(n.consumerStop) })
	<-n.consDone
}

// closeWait bounds how long Close lets the publisher send what the bus
// held at its close, when NATS is there to take it. What it leaves is
// sent by the next run from the journal.
const closeWait = 3 * time.Second

// Close publishes what it can within closeWait once the bus is closed,
// records its positions and disconnects.
func (n *Node) Close() error {
	n.StopConsumingAsync()
	if n.jetStream() != nil {
		t := time.NewTimer(closeWait)
		defer t.Stop()
		select {
		case <-n.pubDone:
		case <-t.C:
		}
	}
	n.stopOnce.Do(func() { close(n.stop) })
	<-n.pubDone
	<-n.consDone
	<-n.mgrDone
	<-n.noted
	n.pub.sub.Close()
	n.nc.Close()
	return nil
}

// StopConsumingAsync asks the consumer to stop without waiting.
func (n *Node) StopConsumingAsync() { n.consOnce.Do(func() { close(n.consumerStop) }) }

// Stats describes the node for status output.
type Stats struct {
	Share string `json:"share"`
	Host  string `json:"host"`
	// Connection is "connected", or what the client is doing instead
	// (RECONNECTING, CONNECTING, ...; "no stream: ..." if the stream
	// cannot be made).
	Connection string `json:"connection"`
	// Server is the URL of the NATS server in use.
	Server string `json:"server,omitempty"`
	// PublishedSeq is the last local seq in the stream (the watermark);
	// Backlog how many local seqs are beyond it; PublishLagMs the age of
	// the oldest publish awaiting its acknowledgement.
	PublishedSeq uint64  `json:"published_seq"`
	Backlog      uint64  `json:"backlog"`
	PublishLagMs float64 `json:"publish_lag_ms"`
	Published    uint64  `json:"published"`
	Failures     uint64  `json:"publish_failures"`
	// Unpublished counts seqs the journal's retention deleted before
	// they were published (announced to the stream as overflow).
	Unpublished uint64 `json:"unpublished_lost"`
	// AppliedStreamSeq is the last stream sequence applied here;
	// RemotePending how many messages the stream holds beyond it;
	// RemoteLagMs how long the last one took from its host to here.
	AppliedStreamSeq uint64 `json:"applied_stream_seq"`
	Applied          uint64 `json:"applied"`
	// Absorbed counts remote events not applied because another host
	// had already reported the same change (see recent.go).
	Absorbed      uint64  `json:"absorbed"`
	RemotePending uint64  `json:"remote_pending"`
	RemoteLagMs   float64 `json:"remote_lag_ms"`
}

// Stats returns the node's current figures.
func (n *Node) Stats() *Stats {
	st := &Stats{
		Share: n.opts.Share, Host: n.opts.Host, Connection: n.state.Load().(string),
		PublishedSeq: n.pub.acked.Load(), Published: n.pub.published.Load(),
		Failures: n.pub.failures.Load(), Unpublished: n.pub.lost.Load(),
		AppliedStreamSeq: n.cons.applied.Load(), Applied: n.cons.count.Load(), Absorbed: n.cons.absorbed.Load(),
		RemotePending: n.cons.pending.Load(), RemoteLagMs: float64(n.cons.lagNs.Load()) / 1e6,
	}
	if n.nc.IsConnected() {
		st.Server = n.nc.ConnectedUrlRedacted()
	} else {
		st.Connection = n.nc.Status().String() // before manage has caught up
	}
	if seq := n.cfg.Bus.Seq(); seq > st.PublishedSeq {
		st.Backlog = seq - st.PublishedSeq
	}
	if o := n.pub.oldest.Load(); o != 0 {
		st.PublishLagMs = float64(time.Now().UnixNano()-o) / 1e6
	}
	return st
}
