package cluster

// Reports of one change by two hosts. On a tree that several hosts see
// directly, one change can be reported by more than one of them: by the
// host that made it (mount), and by another host's watcher (backing)
// when that host could not wait for the first one's event (NATS down, or
// the event later than the hold), or by every host's watcher when the
// change was made by no host at all (on the file server itself). Each
// host keeps the changes reported lately, by path, and a remote event
// that another host's report already covers is not applied again.

import (
	"strings"
	"sync"
	"time"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/eventbus"
)

// kind groups event types by what they change, widened as the kernel
// notes of a change are (a new file is also written and closed; a
// setattr can show as a data change).
type kind uint8

const (
	kindName kind = 1 << iota
	kindData
	kindAttr
	kindClose
)

func kindOf(t event.Type) kind {
	switch t {
	case event.Create:
		return kindName | kindData | kindAttr | kindClose
	case event.Mkdir, event.Mknod, event.Symlink, event.Link:
		return kindName | kindAttr
	case event.Remove, event.Rmdir, event.Rename:
		return kindName
	case event.Write, event.Truncate:
		return kindData | kindClose
	case event.Chmod, event.Chown, event.Utimes:
		return kindAttr | kindData | kindClose
	case event.Setxattr, event.Removexattr:
		return kindAttr
	case event.CloseWrite:
		return kindClose | kindData
	}
	return 0
}

type report struct {
	host    string
	backing bool // a watcher's report, not the change's author's
	kinds   kind
	at      time.Time
	paths   [2]string
}

// recentReports holds the reports of the last window, by path: all of
// them, and the watchers' alone (an author's report is covered only by a
// watcher's, so the common check scans the short list).
type recentReports struct {
	window  time.Duration
	mu      sync.Mutex
	byPath  map[string][]*report
	backing map[string][]*report
	q       []*report
	slab    []report // reports to hand out, allocated many at a time
}

func newRecent(window time.Duration) *recentReports {
	return &recentReports{window: window, byPath: map[string][]*report{}, backing: map[string][]*report{}}
}

// note remembers a report of e by host.
func (r *recentReports) note(e *event.Event, host string, backing bool, now time.Time) {
	k := kindOf(e.Type)
	if k == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	if len(r.slab) == 0 {
		// Reports expire in the order they came: a slab is let go
		// soon after its last one.
		r.slab = make([]report, 256)
	}
	x := &r.slab[0]
	r.slab = r.slab[1:]
	*x = report{host: host, backing: backing, kinds: k, at: now, paths: [2]string{e.Path, e.From}}
	for _, p := range x.names() {
		r.byPath[p] = append(r.byPath[p], x)
		if backing {
			r.backing[p] = append(r.backing[p], x)
		}
	}
	r.q = append(r.q, x)
}

func (x *report) names() []string {
	if x.paths[1] == "" {
		return x.paths[:1]
	}
	return x.paths[:]
}

// covered reports whether another host's report of the same kind of
// change to the same path, within the window, makes e (reported by host)
// a second report of one change. Two authors' own reports never cover
// each other: two hosts may well change one file one after the other.
func (r *recentReports) covered(e *event.Event, host string, backing bool, now time.Time) bool {
	k := kindOf(e.Type)
	if k == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(now)
	by := r.backing
	if backing {
		by = r.byPath
	}
	for _, p := range [2]string{e.Path, e.From} {
		if p == "" {
			continue
		}
		for _, x := range by[p] {
			if x.host != host && (x.backing || backing) && x.kinds&k != 0 {
				return true
			}
		}
	}
	return false
}

func (r *recentReports) expire(now time.Time) {
	n := 0
	for n < len(r.q) && now.Sub(r.q[n].at) > r.window {
		x := r.q[n]
		for _, p := range x.names() {
			unlist(r.byPath, p, x)
			if x.backing {
				unlist(r.backing, p, x)
			}
		}
		r.q[n] = nil
		n++
	}
	r.q = r.q[n:]
}

// unlist removes x from m[p]; reports expire oldest first, so it is
// found at the front.
func unlist(m map[string][]*report, p string, x *report) {
	xs := m[p]
	for i, y := range xs {
		if y == x {
			xs = append(xs[:i], xs[i+1:]...)
			break
		}
	}
	if len(xs) == 0 {
		delete(m, p)
	} else {
		m[p] = xs
	}
}

// noteLocal follows the local bus and remembers this host's own reports
// (mount and backing), whether or not NATS is there to publish them.
func (n *Node) noteLocal(sub *eventbus.Subscription) {
	defer sub.Close()
	var buf []*eventbus.Event
	for {
		evs, _, done := sub.Take(buf[:0], 1024)
		buf = evs
		now := time.Now()
		for _, e := range evs {
			if e.Origin == event.OriginMount || e.Origin == event.OriginBacking {
				n.recent.note(e, n.opts.Host, e.Origin == event.OriginBacking, now)
			}
		}
		if done {
			return
		}
		if len(evs) == 0 {
			select {
			case <-sub.Ready():
			case <-n.stop:
				return
			}
		}
	}
}

// hostOf is the last token of a stream subject.
func hostOf(subject string) string { return subject[strings.LastIndexByte(subject, '.')+1:] }
