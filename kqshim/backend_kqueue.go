//go:build darwin || freebsd

package kqshim

import "github.com/notifyfs/notifyfs/kqshim/internal/kqueue"

// openKqueue starts the kqueue backend (macOS, FreeBSD): a descriptor per
// vnode, its notes translated by kqshim/internal/kqueue.
func openKqueue(s *sink, opts Options) (backend, error) {
	k, err := kqueue.Open(kqueueSink{s}, opts.PollInterval, opts.MaxWatches)
	if err != nil {
		return nil, err
	}
	return kqueueBackend{k}, nil
}

// kqueueBackend is the backend interface over kqueue.Backend.
type kqueueBackend struct{ k *kqueue.Backend }

func (b kqueueBackend) run()         { b.k.Run() }
func (b kqueueBackend) close() error { return b.k.Close() }
func (b kqueueBackend) poke()        { b.k.Poke() }
func (b kqueueBackend) stats() any   { return KqueueStats(b.k.Stats()) }
