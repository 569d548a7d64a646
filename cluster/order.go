package cluster

// One host's order, restored. A host publishes its events in seq order,
// but when a stream leader dies with publishes in flight, later ones can
// be stored by the new leader before the publisher has sent the lost ones
// again. Each message therefore names the seq of the one its host
// published before it (header Notifyfs-Prev), and a message that arrives
// before its predecessor waits for it.

import (
	"strconv"
	"strings"
	"time"
)

// prevHeader carries the seq of the previous event the host published
// in the same epoch; absent after the publisher (re)started, when it
// does not know.
const prevHeader = "Notifyfs-Prev"

// gapWait is how long a message waits for its predecessor before it is
// applied anyway (the predecessor lost for good: out of order, but not
// lost as well).
const gapWait = 30 * time.Second

type pendingMsg struct {
	host, id, prev string
	data           []byte
	stream         uint64    // stream sequence
	local          uint64    // the bus's seq when it came
	at             time.Time // when it began to wait
}

// epochSeq splits a Msg-Id (EPOCH:SEQ) into its parts.
func epochSeq(id string) (epoch, seq string) {
	e, s, _ := strings.Cut(id, ":")
	return e, s
}

// hostOrder is each host's last applied id and the messages waiting.
type hostOrder struct {
	last    map[string]string       // host → EPOCH:SEQ applied last
	waiting map[string][]pendingMsg // host → messages whose predecessor has not come
}

// take applies m if it follows its host's last message (or nothing says
// what it follows), then whatever was waiting for it; otherwise m waits.
func (o *hostOrder) take(c *consumer, m pendingMsg) {
	if o.last == nil {
		o.last, o.waiting = map[string]string{}, map[string][]pendingMsg{}
	}
	if o.seen(m) {
		c.applyOne(m) // sent again after it was applied: skipped there
		return
	}
	if !o.follows(m) {
		m.at = time.Now()
		o.waiting[m.host] = append(o.waiting[m.host], m)
		o.expire(c)
		return
	}
	o.run(c, m)
}

// seen reports whether m is at or before its host's last message.
func (o *hostOrder) seen(m pendingMsg) bool {
	last, ok := o.last[m.host]
	if !ok {
		return false
	}
	le, ls := epochSeq(last)
	me, ms := epochSeq(m.id)
	a, err1 := strconv.ParseUint(ls, 10, 64)
	b, err2 := strconv.ParseUint(ms, 10, 64)
	return le == me && err1 == nil && err2 == nil && b <= a
}

// follows reports whether m comes right after its host's last message.
func (o *hostOrder) follows(m pendingMsg) bool {
	last, ok := o.last[m.host]
	if !ok || m.prev == "" {
		return true
	}
	le, ls := epochSeq(last)
	me, _ := epochSeq(m.id)
	return le != me || ls == m.prev
}

// run applies m and then every waiting message that follows.
func (o *hostOrder) run(c *consumer, m pendingMsg) {
	for {
		c.applyOne(m)
		if _, s := epochSeq(m.id); !strings.HasPrefix(s, "lost") {
			o.last[m.host] = m.id
		}
		w := o.waiting[m.host]
		i := 0
		for i < len(w) && !o.follows(w[i]) {
			i++
		}
		if i == len(w) {
			return
		}
		m = w[i]
		o.waiting[m.host] = append(w[:i], w[i+1:]...)
	}
}

// expire applies, in stream order, what has waited longer than gapWait.
func (o *hostOrder) expire(c *consumer) {
	for h, w := range o.waiting {
		if len(w) > 0 && time.Since(w[0].at) > gapWait {
			c.n.logf("cluster: %s's message before %s never came; applying what followed it", h, w[0].id)
			delete(o.waiting, h)
			for _, m := range w {
				o.run(c, m)
			}
		}
	}
}

// earliest is the waiting message with the lowest stream sequence.
func (o *hostOrder) earliest() (pendingMsg, bool) {
	var best pendingMsg
	found := false
	for _, w := range o.waiting {
		for _, m := range w {
			if !found || m.stream < best.stream {
				best, found = m, true
			}
		}
	}
	return best, found
}
