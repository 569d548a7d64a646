package cluster

// JetStream's acknowledgements, taken by the publisher itself: a publish
// to a stream's subject is a core NATS publish with a reply subject, and
// the stream answers there with {"stream":...,"seq":N} (or an error).
// Doing it here rather than through the client's asynchronous publish
// spares each event a future, a timer, two channels and a reflective
// JSON decode of its answer.

import (
	"bytes"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// acks receives the answers to the publisher's messages on one wildcard
// inbox; each message's reply subject ends with its token.
type acks struct {
	prefix string
	sub    *nats.Subscription
	ready  chan struct{} // has a value when got may have grown

	mu        sync.Mutex
	got, took []answer
}

type answer struct {
	token, stream uint64
	ok            bool
}

// listen subscribes once (the client keeps the subscription across
// reconnections) and returns the prefix of reply subjects.
func (a *acks) listen(nc *nats.Conn) (string, error) {
	if a.sub != nil {
		return a.prefix, nil
	}
	a.prefix, a.ready = nc.NewInbox()+".", make(chan struct{}, 1)
	sub, err := nc.Subscribe(a.prefix+"*", a.take)
	if err != nil {
		return "", err
	}
	a.sub = sub
	return a.prefix, nil
}

func (a *acks) take(m *nats.Msg) {
	token, err := strconv.ParseUint(m.Subject[len(a.prefix):], 10, 64)
	if err != nil {
		return
	}
	stream, ok := parseAck(m.Data)
	a.mu.Lock()
	a.got = append(a.got, answer{token: token, stream: stream, ok: ok})
	a.mu.Unlock()
	select {
	case a.ready <- struct{}{}:
	default:
	}
}

// parseAck reads a stream's answer: the stream sequence the message is
// stored at (a duplicate's too), or not ok for an error, no responders
// (an empty status message) or anything else.
func parseAck(b []byte) (uint64, bool) {
	if len(b) == 0 || bytes.Contains(b, []byte(`"error"`)) || !bytes.Contains(b, []byte(`"stream"`)) {
		return 0, false
	}
	i := bytes.Index(b, []byte(`"seq"`))
	if i < 0 {
		return 0, false
	}
	b = bytes.TrimLeft(b[i+len(`"seq"`):], " \t\r\n")
	if len(b) == 0 || b[0] != ':' {
		return 0, false
	}
	b = bytes.TrimLeft(b[1:], " \t\r\n")
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		n++
	}
	seq, err := strconv.ParseUint(string(b[:n]), 10, 64)
	return seq, err == nil && seq > 0
}

// answers gives the publishes in flight the answers received so far;
// answers to publishes no longer in flight (before a rewind) are dropped.
func (p *publisher) answers() {
	a := &p.acks
	a.mu.Lock()
	got := a.got
	a.got, a.took = a.took[:0], got
	a.mu.Unlock()
	j := 0
	for _, r := range got {
		i := find(p.inflight[j:], r.token)
		if i >= 0 {
			i += j
		} else if i = find(p.inflight[:j], r.token); i < 0 {
			continue
		}
		if s := &p.inflight[i]; s.state == 0 {
			s.state, s.stream = -1, r.stream
			if r.ok {
				s.state = 1
			}
		}
		j = i + 1
	}
}

func find(in []sent, token uint64) int {
	for i := range in {
		if in[i].token == token {
			return i
		}
	}
	return -1
}

// awaitAnswer waits for answers until s has its own, or its time is up.
func (p *publisher) awaitAnswer(s *sent) {
	d := time.Duration(s.time + int64(ackTimeout) - time.Now().UnixNano())
	if d <= 0 {
		s.state = -1
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.acks.ready:
		p.answers()
	case <-t.C:
		s.state = -1
	}
}
