package kqshim

// Flushes (the daemon's sync asking a backend to catch up) and the
// short gathering of notes before a read.

import (
	"time"
)

// addFlush asks the backend to answer (close the channel) once it has
// translated every change made before the call.
func (s *sink) addFlush() chan struct{} {
	ch := make(chan struct{})
	s.flushMu.Lock()
	s.flushes = append(s.flushes, ch)
	s.flushMu.Unlock()
	return ch
}

// takeFlushes hands the backend the flushes asked for so far: it answers
// them once a look at its queue that began after this call is complete.
func (s *sink) takeFlushes(into []chan struct{}) []chan struct{} {
	s.flushMu.Lock()
	into = append(into, s.flushes...)
	s.flushes = s.flushes[:0]
	s.flushMu.Unlock()
	return into
}

// gatherWindow is how long a kernel backend lets notes gather after its
// queue becomes readable, unless a flush waits. Every operation through
// the mount queues notes too (its echoes); read one wake-up each, they
// cost the daemon a wake-up per operation. A millisecond batches a busy
// mount's notes at a latency well inside the 20 ms the bridge aims for.
const gatherWindow = time.Millisecond

// gather waits gatherWindow before a read, unless a flush is waiting.
func (s *sink) gather() {
	if !s.flushWaiting() {
		time.Sleep(gatherWindow)
	}
}

// flushWaiting reports a flush not yet taken. A backend checks it before
// it blocks: the flush's wake-up may have ended a shorter wait already,
// and then nothing else would wake it.
func (s *sink) flushWaiting() bool {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return len(s.flushes) > 0
}

// answer closes the flushes a complete look has covered.
func answer(flushes []chan struct{}) []chan struct{} {
	for _, ch := range flushes {
		close(ch)
	}
	return flushes[:0]
}
