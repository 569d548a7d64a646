package eventbus

// When records reach the kernel and the disk: the write-behind and sync
// schedule, group commit under SyncAlways, and the wait for durability.

import "time"

// fail records the first write error: the journal stops recording, and
// publishers waiting for durability are let go. Called with mu held.
func (j *journal) fail(err error) {
	if j.failed == nil {
		j.failed = err
		j.opts.Logf("journal: %v; events are no longer recorded on disk", err)
		j.dcond.Broadcast() // nothing more becomes durable: waiters give up
	}
}

// flushTo makes sure records up to seq have been handed to the kernel so
// that readers can see them.
func (j *journal) flushTo(seq uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.written < seq && j.w != nil && j.failed == nil {
		if err := j.w.Flush(); err != nil {
			j.fail(err)
			return
		}
		j.written = j.appended
	}
}

// writeBehind is how often buffered records are handed to the kernel
// between fsyncs: a daemon killed outright loses at most this much, as
// the kernel keeps what it was given.
const writeBehind = 10 * time.Millisecond

// syncLoop writes and fsyncs on the policy's schedule, and on request of
// publishers waiting for durability (SyncAlways).
func (j *journal) syncLoop() {
	defer close(j.done)
	t := time.NewTicker(j.opts.SyncInterval)
	defer t.Stop()
	w := time.NewTicker(min(writeBehind, j.opts.SyncInterval))
	defer w.Stop()
	lastRetention := time.Now()
	for {
		select {
		case <-j.stop:
			j.syncNow()
			return
		case <-j.kick:
		case <-w.C:
			j.flushTo(^uint64(0))
			continue
		case <-t.C:
			if time.Since(lastRetention) > time.Second {
				j.applyRetention()
				lastRetention = time.Now()
			}
		}
		j.syncNow()
	}
}

// syncNow hands buffered records to the kernel and, unless the policy
// is never, fsyncs them — without holding j.mu during the fsync.
func (j *journal) syncNow() {
	j.mu.Lock()
	if j.w != nil && j.failed == nil {
		if err := j.w.Flush(); err != nil {
			j.fail(err)
		} else {
			j.written = j.appended
		}
	}
	target := j.written
	files := append(j.retired, j.f)
	j.retired = nil
	policy := j.opts.Sync
	j.mu.Unlock()
	for i, f := range files {
		if f == nil {
			continue
		}
		if policy != SyncNever {
			start := time.Now()
			f.Sync()
			if j.opts.OnSync != nil {
				j.opts.OnSync(time.Since(start))
			}
		}
		if i < len(files)-1 {
			f.Close()
		}
	}
	if j.durable.Load() < target {
		j.durable.Store(target)
		if j.onDurable != nil {
			j.onDurable()
		}
	}
	j.mu.Lock()
	j.dcond.Broadcast()
	j.mu.Unlock()
}

// waitDurable returns once seq is on disk (SyncAlways).
func (j *journal) waitDurable(seq uint64) {
	if j.durable.Load() >= seq {
		return
	}
	select {
	case j.kick <- struct{}{}:
	default:
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	// A failed or closed journal will never make seq durable.
	for j.durable.Load() < seq && j.failed == nil && !j.closed {
		j.dcond.Wait()
	}
}
