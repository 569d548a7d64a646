package eventbus

import "time"

// Coalescing folds consecutive identical events — same type, path and
// process — that a subscriber takes in one batch, within a time window,
// into one event whose Count says how many it stands for. It costs no
// latency: only events that are already waiting together are folded, so
// a subscriber that keeps up sees every event, and one that falls behind
// sees bursts condensed.
//
// Namespace changes (create, mkdir, mknod, symlink, link, remove, rmdir,
// rename) and stream control are never folded: each one changes what a
// path names. The folded event carries the seq of the last event folded
// into it (so a cursor taken from it resumes after all of them), the
// time of the first, and the attributes (size...) of the last.

// foldable types may be merged when repeated.
var foldable = MaskOf(Write, Truncate, Chmod, Chown, Utimes, Setxattr, Removexattr, CloseWrite, Open, Close)

// SetCoalesce sets the coalescing window of the subscription; 0 (the
// default) turns coalescing off. Call it before the first Take.
func (s *Subscription) SetCoalesce(window time.Duration) {
	s.coalesce = window
}

// coalesceTail folds the events appended to out since index start.
func coalesceTail(out []*Event, start int, window time.Duration) []*Event {
	if window <= 0 || len(out)-start < 2 {
		return out
	}
	w := start
	for r := start; r < len(out); r++ {
		e := out[r]
		if w > start {
			prev := out[w-1]
			if sameKind(prev, e) && e.Time.Sub(prev.Time) <= window {
				m := *prev // events are shared: fold into a copy
				m.Seq = e.Seq
				m.Count = count(prev) + count(e)
				m.HasAttr, m.Ino, m.Mode, m.Size = e.HasAttr, e.Ino, e.Mode, e.Size
				out[w-1] = &m
				continue
			}
		}
		out[w] = e
		w++
	}
	clear(out[w:])
	return out[:w]
}

func count(e *Event) uint32 { return max(e.Count, 1) }

func sameKind(a, b *Event) bool {
	return a.Type == b.Type && foldable.Has(a.Type) && a.Path == b.Path && a.Pid == b.Pid &&
		a.Origin == b.Origin && a.Xattr == b.Xattr && a.Seq != 0 && b.Seq != 0
}
