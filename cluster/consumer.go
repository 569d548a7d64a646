package cluster

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/eventbus"
)

// consumer applies other hosts' events from the share's stream to the
// local bus, each exactly once and in stream order.
type consumer struct {
	n    *Node
	file *stateFile

	// applied is the last stream sequence applied; local the bus's seq
	// right after it. Only the consumer's goroutine writes them.
	applied atomic.Uint64
	local   uint64
	saved   time.Time

	// journaled holds the keys (see keyOf) of remote events the journal
	// holds beyond the recorded position: applied before a crash but not
	// recorded as applied. Each is skipped once.
	journaled map[string]int
	// recent remembers the message ids applied lately: a message sent
	// again after the stream's duplicate window is still applied once.
	recent *idSet
	// order puts each host's messages back in its order (order.go).
	order hostOrder

	// caughtUp says the consumer is reading and has had nothing pending
	// since it (re)started.
	caughtUp atomic.Bool
	// start is when the node started: with no record of what was
	// applied, the stream is read from the events stored since.
	start time.Time

	sawIdle  bool // checkIdle found the stream ahead once already
	count    atomic.Uint64
	absorbed atomic.Uint64 // second reports of a change, not applied
	pending  atomic.Uint64 // messages the stream holds beyond the consumer
	lagNs    atomic.Int64  // origin time to local publish, of the last one
}

// recover reads the record of what was applied and the journal after it.
func (c *consumer) recover() error {
	s, err := c.file.read()
	if err != nil {
		return err
	}
	a, err := parseApplied(s)
	if err != nil {
		return err
	}
	b := c.n.cfg.Bus
	c.applied.Store(a.stream)
	c.local = b.Seq()
	if a.stream == 0 || a.local.Epoch != b.Epoch() || a.local.Seq >= b.Seq() {
		return nil
	}
	// The journal after the record: remote events there were applied.
	sub, err := b.Subscribe("cluster-recover", eventbus.Filter{Types: event.AllTypes}, &a.local)
	if err != nil {
		return err
	}
	defer sub.Close()
	c.journaled = map[string]int{}
	var buf []*eventbus.Event
	for upto := b.Seq(); ; {
		evs, pos, done := sub.Take(buf[:0], 1024)
		for _, e := range evs {
			if e.Origin == event.OriginRemote && e.Seq <= upto {
				c.journaled[keyOf(e)]++
			}
		}
		if pos >= upto || done {
			return nil
		}
		if len(evs) == 0 {
			<-sub.Ready()
		}
	}
}

// keyOf identifies a remote event across a restart: the local seq is new,
// the origin's time (kept to the nanosecond) and host are not.
func keyOf(e *event.Event) string {
	return e.Host + "|" + strconv.FormatInt(e.Time.UnixNano(), 10) + "|" + e.Type.String() + "|" + e.Path
}

// run consumes until the node stops, starting over from the last
// applied sequence whenever the consumer fails.
func (c *consumer) run() {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	defer c.save(true)
	for attempt := 0; ; attempt++ {
		js := c.n.jetStream()
		if js == nil {
			if !c.n.waitChange(tick.C, c.n.consumerStop) {
				return
			}
			continue
		}
		if err := c.consume(js); err != nil {
			c.n.logf("cluster: consumer: %v; resuming after stream seq %d", err, c.applied.Load())
		}
		if !backoff(c.n.consumerStop, attempt) {
			return
		}
	}
}

// consume reads the stream from the message after the last applied one
// with an ordered consumer, which the client recreates from the last
// message it delivered whenever it sees a gap, a lost heartbeat or a
// reconnect: the order of the stream is kept and nothing is skipped.
func (c *consumer) consume(js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	stream, err := js.Stream(ctx, StreamName(c.n.opts.Share))
	cancel()
	if err != nil {
		return err
	}
	var cfg jetstream.OrderedConsumerConfig
	if subj := stream.CachedInfo().Config.Subjects; len(subj) != 1 || subj[0] != AllSubjects(c.n.opts.Share) {
		// A stream made by hand may hold more: read the share's
		// subjects alone. The stream ensureStream makes holds only
		// them, and reading it unfiltered spares the server a
		// subject match per message.
		cfg.FilterSubjects = []string{AllSubjects(c.n.opts.Share)}
	}
	if a := c.applied.Load(); a > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, a+1
	} else {
		// A mount with no record (a new journal, or none) takes the
		// events made since it started, not the share's history.
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &c.start
	}
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	cons, err := stream.OrderedConsumer(ctx, cfg)
	cancel()
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1024), jetstream.PullHeartbeat(time.Second))
	if err != nil {
		return err
	}
	defer c.setCaughtUp(false)
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		c.setCaughtUp(true)
	}
	// This goroutine applies the messages as Next returns them; another
	// one, every tick and while holding mu, records the position and
	// checks the stream when nothing came. Next is called with no time
	// limit: a timer per message costs more than the rest of its way.
	var (
		mu     sync.Mutex
		got    uint64 // messages taken, under mu
		failed error  // why the watcher stopped the iterator, under mu
	)
	stopped, watched := make(chan struct{}), make(chan struct{})
	defer func() { close(stopped); <-watched }()
	go func() {
		defer close(watched)
		defer it.Stop()
		tick := time.NewTicker(idleWait / 2)
		defer tick.Stop()
		seen, quiet, lastCheck := uint64(0), 0, time.Now()
		for {
			select {
			case <-c.n.consumerStop:
				return
			case <-stopped:
				return
			case <-tick.C:
			}
			mu.Lock()
			c.save(false)
			if got != seen {
				seen, quiet = got, 0
			} else {
				quiet++
			}
			if quiet >= 2 && time.Since(lastCheck) >= idleCheck {
				lastCheck = time.Now()
				if err := c.checkIdle(js); err != nil {
					failed = err
					mu.Unlock()
					return
				}
			}
			mu.Unlock()
		}
	}()
	for {
		msg, err := it.Next()
		if err == jetstream.ErrMsgIteratorClosed {
			mu.Lock()
			err = failed
			mu.Unlock()
			return err
		}
		if err != nil {
			if !isTimeout(err) {
				return err
			}
			continue
		}
		mu.Lock()
		c.apply(msg)
		got++
		mu.Unlock()
	}
}

// idleWait is how long the consumer may receive nothing before it
// counts as idle.
const idleWait = 100 * time.Millisecond

// idleCheck is how long the consumer may receive nothing before it asks
// the stream whether that is because there is nothing to receive.
const idleCheck = 500 * time.Millisecond

// checkIdle compares the stream's last sequence with the last applied
// one: equal, the consumer is caught up; beyond, it is stuck (it has
// been seen not to recover by itself when created while a replicated
// stream was still settling) and is made again.
func (c *consumer) checkIdle(js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, StreamName(c.n.opts.Share))
	if err != nil {
		return nil // NATS is away: the client's reconnection deals with it
	}
	st := s.CachedInfo().State
	last, a := st.LastSeq, c.applied.Load()
	// With nothing applied yet, the consumer reads from the node's start:
	// it is behind only if the stream got something since.
	if last > a && (a > 0 || st.LastTime.After(c.start)) {
		if c.sawIdle {
			c.sawIdle = false
			return fmt.Errorf("idle with the stream at seq %d beyond %d", last, c.applied.Load())
		}
		c.sawIdle = true     // once more: messages may have been on their way
		c.setCaughtUp(false) // meanwhile the watcher's gate shuts
		return nil
	}
	c.sawIdle = false
	c.setCaughtUp(true)
	return nil
}

func (c *consumer) setCaughtUp(up bool) {
	if c.caughtUp.Swap(up) != up && up {
		c.n.Up() // Up may be waited on
	}
}

func isTimeout(err error) bool {
	return err == context.DeadlineExceeded || strings.Contains(err.Error(), "timeout")
}

// apply takes one message from the stream: this host's own is passed
// over, another's applied in its host's order (see order.go).
func (c *consumer) apply(msg jetstream.Msg) {
	seq, pending, ok := position(msg.Reply())
	if !ok {
		return
	}
	if seq <= c.applied.Load() {
		return
	}
	defer func() {
		c.applied.Store(seq)
		c.pending.Store(pending)
		if pending == 0 {
			// Caught up once since it (re)started is enough: from then
			// on it reads as the stream grows, and a busy stream
			// always has something pending.
			c.setCaughtUp(true)
		}
	}()
	host := hostOf(msg.Subject())
	if host == c.n.opts.Host {
		c.local = c.n.cfg.Bus.Seq()
		return
	}
	c.order.take(c, pendingMsg{host: host, id: msg.Headers().Get(jetstream.MsgIDHeader),
		prev: msg.Headers().Get(prevHeader), data: msg.Data(), stream: seq, local: c.n.cfg.Bus.Seq()})
}

// position reads a message's stream sequence and the number of messages
// pending after it from its reply subject, as msg.Metadata does, without
// the allocations: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.
// <tm>.<pending>, or with <domain>.<account hash> before <stream> and
// possibly more tokens after <pending>.
func position(reply string) (seq, pending uint64, ok bool) {
	rest, ok := strings.CutPrefix(reply, "$JS.ACK.")
	if !ok {
		return 0, 0, false
	}
	skip := 3 // <stream>.<consumer>.<delivered>
	switch n := strings.Count(rest, ".") + 1; {
	case n == 7:
	case n >= 9:
		skip += 2
	default:
		return 0, 0, false
	}
	var tok [4]string // <sseq> <cseq> <tm> <pending>
	for range skip {
		_, rest, _ = strings.Cut(rest, ".")
	}
	for i := range tok {
		tok[i], rest, _ = strings.Cut(rest, ".")
	}
	seq, err1 := strconv.ParseUint(tok[0], 10, 64)
	pending, err2 := strconv.ParseUint(tok[3], 10, 64)
	return seq, pending, err1 == nil && err2 == nil
}

// applyOne publishes one message's event locally, unless it was applied
// already or another host's report covers it.
func (c *consumer) applyOne(m pendingMsg) {
	host, seq := m.host, m.stream
	if !c.recent.add(msgID{host, m.id}) {
		return
	}
	ev := new(event.Event)
	if err := ev.UnmarshalJSON(m.data); err != nil {
		c.n.logf("cluster: stream seq %d from %s: %v; skipped", seq, host, err)
		return
	}
	if ev.Host == "" {
		ev.Host = host
	}
	if len(c.journaled) > 0 {
		if k := keyOf(ev); c.journaled[k] > 0 {
			if c.journaled[k]--; c.journaled[k] == 0 {
				delete(c.journaled, k)
			}
			return
		}
	}
	backing, now := ev.Origin == event.OriginBacking, time.Now()
	if c.n.recent.covered(ev, host, backing, now) {
		c.absorbed.Add(1)
		return
	}
	c.n.recent.note(ev, host, backing, now)
	ev.Seq, ev.Origin = 0, event.OriginRemote
	if ev.Type == event.Overflow {
		// The host lost events before it could publish them: what it
		// changed then is unknown here, so the whole tree is to re-read.
		ev.Type, ev.Path, ev.From, ev.IsDir, ev.FromSeq, ev.ToSeq = event.Rescan, "", "", true, 0, 0
	}
	if f := c.n.cfg.ExpectRemote; f != nil {
		f(ev)
	}
	if f := c.n.cfg.Invalidate; f != nil {
		f(ev)
	}
	c.local = c.n.cfg.Bus.Publish(ev)
	c.count.Add(1)
	c.lagNs.Store(time.Since(ev.Time).Nanoseconds())
}

// save records the applied position, at most every 50ms unless forced
// (a crash in between is covered by recover).
func (c *consumer) save(force bool) {
	if !force && time.Since(c.saved) < 50*time.Millisecond {
		return
	}
	c.saved = time.Now()
	a := applied{stream: c.applied.Load(), local: event.Cursor{Epoch: c.n.cfg.Bus.Epoch(), Seq: c.local}}
	if m, ok := c.order.earliest(); ok {
		// A message waits for its predecessor: a restart must read it
		// again, and recognise in the journal what was applied since.
		a = applied{stream: m.stream - 1, local: event.Cursor{Epoch: a.local.Epoch, Seq: m.local}}
	}
	if a.stream == 0 {
		return
	}
	if err := c.file.write(a.String()); err != nil {
		c.n.logf("%v", err)
	}
}

// idSet is a set of the last idSetSize ids added.
type idSet struct {
	m    map[msgID]struct{}
	ring []msgID
	next int
}

// msgID is a message's host and Msg-Id.
type msgID struct{ host, id string }

const idSetSize = 1 << 16

func newIDSet() *idSet {
	return &idSet{m: make(map[msgID]struct{}, idSetSize), ring: make([]msgID, idSetSize)}
}

// add reports whether id is new, remembering it.
func (s *idSet) add(id msgID) bool {
	if _, ok := s.m[id]; ok {
		return false
	}
	if old := s.ring[s.next]; old != (msgID{}) {
		delete(s.m, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % len(s.ring)
	s.m[id] = struct{}{}
	return true
}
