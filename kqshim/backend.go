package kqshim

// backend is one way of seeing changes on SOURCE. Each lives in its own
// file (backend_fanotify.go, backend_inotify.go, backend_kqueue.go — the
// glue of the package internal/kqueue —, backend_poll.go) and talks to
// the rest only through the sink.
type backend interface {
	// run reads the kernel's notes (or scans) and hands the changes to
	// the sink until close is called.
	run()
	// close stops run and releases what the backend holds; run returns
	// soon after.
	close() error
	// stats adds the backend's own figures to status.
	stats() any // one of the *Stats types of stats.go
	// poke makes run look at its queue (or scan) now, to answer flushes.
	poke()
}

// opener starts a backend; an error means it cannot work here (auto then
// tries the next one).
type opener func(s *sink, opts Options) (backend, error)

type namedOpener struct {
	name string
	open opener
}
