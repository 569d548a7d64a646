package cluster

// Liveness: each host says, on a core NATS subject outside the stream,
// when its outbox was last drained and up to which stream sequence. A
// host holding a change its watcher found waits until every other live
// host has drained past the moment it was found (see Node.Gate).

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// liveSubject is where a share's hosts say they are drained; not part of
// the stream (its subjects start with "notifyfs.").
func liveSubject(share, host string) string { return "notifyfs-live." + share + "." + host }

// liveTimeout is how long a host may be silent, while this one is
// connected, before it is taken to be gone: nobody waits for it then,
// and what it changed meanwhile may be reported here as backing once.
const liveTimeout = 3 * time.Second

// liveEvery is how often a host says until when it is drained.
const liveEvery = 50 * time.Millisecond

// drained is one host's word: every event it stamped up to T is in the
// stream, at or below Seq.
type drained struct {
	T   int64  `json:"t"`
	Seq uint64 `json:"seq"`
}

type liveHost struct {
	drained time.Time
	seq     uint64
	heard   time.Time
}

type liveness struct {
	mu    sync.Mutex
	hosts map[string]*liveHost
	since time.Time // last (re)connection
	sub   *nats.Subscription
}

func (l *liveness) connected(now time.Time) {
	l.mu.Lock()
	l.since = now
	l.mu.Unlock()
}

// listen subscribes once; the client keeps the subscription across
// reconnections.
func (l *liveness) listen(nc *nats.Conn, share, me string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sub != nil {
		return nil
	}
	if l.hosts == nil {
		l.hosts = map[string]*liveHost{}
	}
	sub, err := nc.Subscribe(liveSubject(share, "*"), func(m *nats.Msg) {
		host := hostOf(m.Subject)
		var d drained
		if host == me || json.Unmarshal(m.Data, &d) != nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		h := l.hosts[host]
		if h == nil {
			h = &liveHost{}
			l.hosts[host] = h
		}
		if t := time.Unix(0, d.T); t.After(h.drained) {
			h.drained, h.seq = t, d.Seq
		}
		h.heard = time.Now()
	})
	if err == nil {
		l.sub = sub
	}
	return err
}

// drainedPast reports whether every live host has drained past found,
// with applied at or beyond what it had stored then.
func (l *liveness) drainedPast(found time.Time, applied uint64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, h := range l.hosts {
		if now.Sub(h.heard) > liveTimeout && now.Sub(l.since) > liveTimeout {
			continue // gone, or away: nobody waits for it
		}
		if h.drained.Before(found) || applied < h.seq {
			return false
		}
	}
	return true
}

// announce says this host's outbox was drained as of t, up to stream
// sequence seq (and, by being sent, that the host is there).
func announce(nc *nats.Conn, share, host string, t time.Time, seq uint64) {
	b, _ := json.Marshal(drained{T: t.UnixNano(), Seq: seq})
	_ = nc.Publish(liveSubject(share, host), b)
}
