package kqueue_test

// kqshim sets kqueue.NewTestSink: the translation's tests run through
// kqshim's own sink.
import _ "github.com/notifyfs/notifyfs/kqshim"
