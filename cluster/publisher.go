package cluster

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/eventbus"
)

// publisher sends the mount's own events to the share's stream, reading
// them from the bus (and so from the journal when it falls behind).
type publisher struct {
	n       *Node
	sub     *eventbus.Subscription
	file    *stateFile
	subject string

	// acked is the watermark: every local seq up to it is in the stream
	// or is not ours to publish.
	acked atomic.Uint64
	// oldest is the time of the oldest event sent and not yet
	// acknowledged, in Unix ns (0: none), for the lag in status.
	oldest    atomic.Int64
	published atomic.Uint64
	failures  atomic.Uint64
	lost      atomic.Uint64 // seqs retention deleted before they were published

	// prev is the seq of the last event sent, for the next one's
	// Notifyfs-Prev header ("" = not known: after a start); lastAcked
	// that of the last one acknowledged, where a rewind resumes.
	prev, lastAcked string
	// streamSeq is the highest stream sequence of an acknowledged
	// publish; announced is when the publisher last said it was drained.
	streamSeq uint64
	announced time.Time
	saved     time.Time
	// drainedAt is when the outbox was last seen empty, with the stream
	// sequence of the last publish then.
	drainedAt  time.Time
	drainedSeq uint64

	inflight []sent
	buf      []*eventbus.Event
	// msg is reused for every publish (the client copies it out before
	// PublishMsg returns), with its header values.
	msg         nats.Msg
	idv, prevv  []string
	scratch     []byte
	acks        acks
	token       uint64 // of the last publish (see acks)
	reconnected uint64 // the client's count of reconnections, as last seen
}

// sent is one publish awaiting its acknowledgement, or (token 0) a mark
// that the seqs up to seq need none.
type sent struct {
	seq    uint64
	token  uint64 // its reply subject's last token
	time   int64
	state  int8   // 1 acknowledged, -1 failed, 0 not yet
	stream uint64 // the stream sequence it was stored at
}

// publishBatch is how many events one pass takes from the bus.
const publishBatch = 512

// ackTimeout is how long a publish may wait for its acknowledgement
// before the publisher sends again from the watermark. Short, so that a
// publish lost with a dying stream leader is sent again soon: consumers
// hold the later ones back until it comes (order.go).
const ackTimeout = 2 * time.Second

// subscribe positions the publisher after the watermark.
func (p *publisher) subscribe() error {
	b := p.n.cfg.Bus
	since := &event.Cursor{Epoch: b.Epoch(), Seq: p.acked.Load()}
	sub, err := b.Subscribe("cluster-publisher", eventbus.Filter{Types: event.AllTypes}, since)
	if err != nil {
		return err
	}
	p.sub = sub
	return nil
}

// run publishes until the bus closes (everything taken and settled) or
// the node stops.
func (p *publisher) run() {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	defer func() { p.saved = time.Time{}; p.save() }()
	attempt := 0
	for {
		if p.n.jetStream() == nil {
			if len(p.inflight) > 0 {
				// Disconnected: what was in flight may never be
				// answered. Send it again once connected.
				p.rewind()
			}
			if p.n.nc.IsConnected() {
				p.announce() // connected, the stream not yet there: still here
			}
			if !p.n.waitChange(tick.C, p.n.stop) {
				return
			}
			continue
		}
		if r := p.n.nc.Stats().Reconnects; r != p.reconnected {
			// Answers to what was sent before are lost with the
			// connection that was to carry them.
			p.reconnected = r
			p.rewind()
		}
		ok, finished := p.pass()
		if finished {
			return
		}
		if !ok {
			p.failures.Add(1)
			p.rewind()
			p.announce() // still here, if behind
			if !backoff(p.n.stop, attempt) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
		p.settle(false)
		p.save()
		p.announce()
		more := p.sub.Ready()
		if len(p.inflight) >= p.n.opts.MaxInFlight {
			more = nil // room first
		}
		if !p.wait(more, tick.C) {
			return
		}
	}
}

// pass takes what the bus has and sends it. ok is false after a failed
// publish; finished once the bus is closed and everything is settled.
func (p *publisher) pass() (ok, finished bool) {
	room := p.n.opts.MaxInFlight - len(p.inflight)
	if room <= 0 {
		return p.settle(false), false
	}
	evs, pos, done := p.sub.Take(p.buf[:0], min(room, publishBatch))
	p.buf = evs
	for _, e := range evs {
		if !p.send(e) {
			return false, false
		}
	}
	if n := len(p.inflight); n == 0 || p.inflight[n-1].seq < pos {
		p.inflight = append(p.inflight, sent{seq: pos}) // what the filter passed over
	}
	if !p.settle(false) {
		return false, false
	}
	if done {
		return p.settle(true), len(p.inflight) == 0
	}
	return true, false
}

// send publishes one event, or marks it as not ours.
func (p *publisher) send(e *eventbus.Event) bool {
	var id string
	switch {
	case e.Type == event.Overflow:
		// Seqs the journal no longer holds were never published: say so.
		p.lost.Add(e.ToSeq - e.FromSeq + 1)
		o := *e
		o.Host = p.n.opts.Host
		e = &o
		id = p.n.cfg.Bus.Epoch() + ":lost:" + strconv.FormatUint(e.FromSeq, 10)
	case e.Seq == 0 || e.Origin == event.OriginRemote || e.Type == event.Unmount || e.Type == event.Reset:
		return true // not a change of this host's
	default:
		epoch := p.n.cfg.Bus.Epoch()
		p.scratch = strconv.AppendUint(append(append(p.scratch[:0], epoch...), ':'), e.Seq, 10)
		id = string(p.scratch)
	}
	reply, err := p.acks.listen(p.n.nc)
	if err != nil {
		return false
	}
	m := &p.msg
	if m.Header == nil {
		m.Header, p.idv, p.prevv = nats.Header{}, make([]string, 1), make([]string, 1)
	}
	m.Subject, m.Data = p.subject, e.AppendJSON(m.Data[:0])
	p.idv[0] = id
	m.Header[jetstream.MsgIDHeader] = p.idv
	if p.prev != "" {
		p.prevv[0] = p.prev
		m.Header[prevHeader] = p.prevv
	} else {
		delete(m.Header, prevHeader)
	}
	if e.Type != event.Overflow {
		p.prev = id[strings.IndexByte(id, ':')+1:] // the seq
	}
	p.token++
	p.scratch = strconv.AppendUint(append(p.scratch[:0], reply...), p.token, 10)
	m.Reply = string(p.scratch)
	if err := p.n.nc.PublishMsg(m); err != nil {
		return false
	}
	now := time.Now().UnixNano()
	p.oldest.CompareAndSwap(0, now)
	p.inflight = append(p.inflight, sent{seq: e.Seq, token: p.token, time: now})
	return true
}

// settle advances the watermark over acknowledged publishes (waiting
// for all of them with wait). It returns false if one failed.
func (p *publisher) settle(wait bool) bool {
	n := 0
	defer func() {
		p.inflight = append(p.inflight[:0], p.inflight[n:]...)
		if len(p.inflight) == 0 {
			p.oldest.Store(0)
		} else {
			p.oldest.Store(p.inflight[0].time)
		}
	}()
	p.answers()
	for ; n < len(p.inflight); n++ {
		s := &p.inflight[n]
		if s.token != 0 {
			for s.state == 0 && wait {
				p.awaitAnswer(s)
			}
			if s.state == 0 && time.Now().UnixNano()-s.time > int64(ackTimeout) {
				s.state = -1
			}
			switch s.state {
			case 0:
				return true
			case -1:
				return false
			}
			p.published.Add(1)
			p.streamSeq = max(p.streamSeq, s.stream)
			if s.seq > 0 {
				p.lastAcked = strconv.FormatUint(s.seq, 10)
			}
		}
		if s.seq > p.acked.Load() {
			p.acked.Store(s.seq)
		}
	}
	return true
}

// wait blocks until the bus has more, an acknowledgement comes, a tick
// passes, or the node stops (false).
func (p *publisher) wait(more <-chan struct{}, tick <-chan time.Time) bool {
	select {
	case <-more:
	case <-p.acks.ready:
	case <-tick:
	case <-p.n.stop:
		return false
	}
	return true
}

// announce tells the other hosts, every liveEvery, until when every
// event this host stamped is in the stream (see live.go). It says so
// also while its outbox is not drained (with the last time it was): a
// host that is there but behind is waited for, not taken as gone.
func (p *publisher) announce() {
	now := time.Now() // before reading the bus: an event stamped earlier has a lower seq
	if len(p.inflight) == 0 && p.acked.Load() >= p.n.cfg.Bus.Seq() {
		p.drainedAt, p.drainedSeq = now, p.streamSeq
	}
	if now.Sub(p.announced) < liveEvery {
		return
	}
	p.announced = now
	announce(p.n.nc, p.n.opts.Share, p.n.opts.Host, p.drainedAt, p.drainedSeq)
}

// rewind forgets what is in flight and reads again from the watermark:
// whatever of it JetStream did store is dropped there as a duplicate
// (same Nats-Msg-Id).
func (p *publisher) rewind() {
	// What is in flight is not waited for: an answer that comes later
	// changes nothing (a stored publish is dropped as a duplicate when
	// sent again), and consumers put a host's messages back in order.
	p.inflight = p.inflight[:0]
	p.oldest.Store(0)
	p.prev = p.lastAcked
	p.sub.Close()
	if err := p.subscribe(); err != nil {
		p.n.logf("cluster: publisher: %v", err)
	}
}

func (p *publisher) save() {
	if time.Since(p.saved) < 50*time.Millisecond {
		return // a crash re-sends at most this much: dropped as duplicates
	}
	p.saved = time.Now()
	c := event.Cursor{Epoch: p.n.cfg.Bus.Epoch(), Seq: p.acked.Load()}
	if err := p.file.write(c.String()); err != nil {
		p.n.logf("%v", err)
	}
}
