package kqueue

import "github.com/notifyfs/notifyfs/eventbus"

// TestSink is a Sink with what this package's tests ask of it besides:
// announcing the mount's own changes, counting those still standing, and
// asking for a flush.
type TestSink interface {
	Sink
	Expect(t eventbus.Type, path, from string, ino, gen uint64) (done func())
	Standing() int64
	AddFlush() chan struct{}
}

// NewTestSink makes kqshim's own sink over the directory source, which
// delivers to publish, for this package's tests: they check the
// translation through the very steps that report its changes. kqshim
// sets it (kqshim/kqueue_sink.go), and the tests import kqshim to have
// it set; nothing else uses it.
var NewTestSink func(source string, publish func(*eventbus.Event), logf func(format string, args ...any)) TestSink
