package kqshim

import (
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
	"github.com/notifyfs/notifyfs/kqshim/internal/kqueue"
)

// kqueueSink is the sink as the kqueue translation sees it (kqueue.Sink).
// It has no build tag: the translation's tests run on every system,
// through this very sink (see init).
type kqueueSink struct{ s *sink }

func (a kqueueSink) Source() string                          { return a.s.source }
func (a kqueueSink) RootFD() int                             { return a.s.rootfd }
func (a kqueueSink) Rel(abs string) (string, bool)           { return a.s.rel(abs) }
func (a kqueueSink) StatRel(rel string) (fsobj.Entry, error) { return a.s.statRel(rel) }
func (a kqueueSink) Created(rel string, isDir, moved bool)   { a.s.created(rel, isDir, moved) }
func (a kqueueSink) Removed(rel string, isDir, moved bool)   { a.s.removed(rel, isDir, moved) }
func (a kqueueSink) Renamed(from, to string, replaced bool) {
	a.s.renamed(from, to, replaced)
}
func (a kqueueSink) AttrChanged(rel string)               { a.s.attrChanged(rel) }
func (a kqueueSink) DataChanged(rel string)               { a.s.dataChanged(rel) }
func (a kqueueSink) Rescan(rel, why string)               { a.s.rescan(rel, why) }
func (a kqueueSink) Baseline(e fsobj.Entry)               { a.s.attrs.swap(e) }
func (a kqueueSink) InferredEcho(ev *eventbus.Event) bool { return a.s.inferredEcho(ev) }
func (a kqueueSink) Emit(ev *eventbus.Event)              { a.s.emit(ev) }
func (a kqueueSink) Mark() uint64                         { return a.s.ledger.mark() }
func (a kqueueSink) Retire(mark uint64)                   { a.s.ledger.retire(mark) }

func (a kqueueSink) Scan(rel string) (map[string]fsobj.Entry, error) {
	return scan(a.s.rootfd, rel)
}

func (a kqueueSink) Diff(old, new map[string]fsobj.Entry) []*eventbus.Event {
	return diff(old, new)
}

func (a kqueueSink) TakeFlushes(into []chan struct{}) []chan struct{} {
	return a.s.takeFlushes(into)
}

func (a kqueueSink) Logf(format string, args ...any) {
	if a.s.cfg.Logf != nil {
		a.s.cfg.Logf(format, args...)
	}
}

// The tests of internal/kqueue run the translation through this sink,
// over a sink of their own SOURCE (they import kqshim to have it set).
func init() {
	kqueue.NewTestSink = func(source string, publish func(*eventbus.Event), logf func(string, ...any)) kqueue.TestSink {
		return kqueueTestSink{kqueueSink{newSink(source, Config{Source: source, Publish: publish, Logf: logf})}}
	}
}

// kqueueTestSink adds what those tests ask of the sink besides.
type kqueueTestSink struct{ kqueueSink }

func (a kqueueTestSink) Expect(t eventbus.Type, path, from string, ino, gen uint64) (done func()) {
	return a.s.ledger.Expect(t, path, from, ino, gen)
}
func (a kqueueTestSink) Standing() int64         { return a.s.ledger.standing() }
func (a kqueueTestSink) AddFlush() chan struct{} { return a.s.addFlush() }
