package eventbus

// When records reach the kernel and the disk: the write-behind and sync
// schedule, group commit under SyncAlways, and the wait for durability.

import (
	"os"
	"time"
)

// retryEvery is how often a failed journal tries to record again (on
// the next event after it), so that it resumes by itself once space
// returns, without a write attempt per event meanwhile.
var retryEvery = time.Second // a variable so that tests need not wait

// Notices the journal leaves for the bus to publish (journal.notice).
const (
	noticeNone int32 = iota
	noticeLost
	noticeRestored
)

// fail records a write error: the journal stops recording until it
// manages to start a new segment (resume), publishers waiting for
// durability are let go, and the bus is asked to tell subscribers that
// durability is lost from the first seq that may not be on disk. Called
// with mu held.
func (j *journal) fail(err error) {
	if j.failed != nil {
		return
	}
	j.failed = err
	j.failing.Store(true)
	j.lostFrom = j.durable.Load() + 1
	j.lastTry = time.Now()
	j.notice.Store(noticeLost)
	j.opts.Logf("journal: %v; events from seq %d on are delivered from memory only, not recorded on disk, until it can write again", err, j.lostFrom)
	j.dcond.Broadcast() // nothing more becomes durable: waiters give up
}

// resume tries to record again from seq on, in a new segment: what the
// failed one holds stays readable, and the seqs it lacks are reported to
// readers as lost. Called with mu held, on a failed journal.
func (j *journal) resume(seq uint64) bool {
	if time.Since(j.lastTry) < retryEvery {
		return false
	}
	j.lastTry = time.Now()
	// The buffered bytes belong to the failed segment, which the writer
	// can no longer complete: drop them with it.
	if j.f != nil {
		j.w.Reset(j.f)
		j.retired = append(j.retired, j.f)
		j.f = nil
		j.segs[len(j.segs)-1].full = true
	}
	if err := j.startSegment(seq); err != nil {
		j.failed = err // the latest reason, for status
		return false
	}
	if j.opts.Sync != SyncAlways {
		if err := j.reserve(seq + reserveAhead); err != nil {
			j.failed = err
			return false
		}
	}
	j.opts.Logf("journal: recording again from seq %d (events %d..%d are not on disk)", seq, j.lostFrom, seq-1)
	j.failed = nil
	j.failing.Store(false)
	j.restoredFrom = seq
	j.appended, j.written = seq-1, seq-1
	// What was delivered from memory meanwhile stays delivered.
	if j.durable.Load() < seq-1 {
		j.durable.Store(seq - 1)
	}
	j.notice.Store(noticeRestored)
	return true
}

// takeNotice returns the durability notice to publish, if any.
func (j *journal) takeNotice() *Event {
	switch j.notice.Swap(noticeNone) {
	case noticeLost:
		j.mu.Lock()
		defer j.mu.Unlock()
		return &Event{Type: DurabilityLost, FromSeq: j.lostFrom}
	case noticeRestored:
		j.mu.Lock()
		defer j.mu.Unlock()
		return &Event{Type: DurabilityRestored, FromSeq: j.restoredFrom}
	}
	return nil
}

// closeQuietly closes a file whose errors no longer matter.
func closeQuietly(f *os.File) {
	if f != nil {
		f.Close()
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

// retentionEvery is how often the syncer applies the retention limits.
const retentionEvery = time.Second

// syncLoop writes and fsyncs on the policy's schedule, and on request of
// publishers waiting for durability (SyncAlways). While nothing is
// waiting to be written it sleeps until the next append (waking once per
// retentionEvery for retention), so that an idle daemon neither wakes a
// hundred times a second nor fsyncs a file that has not changed.
func (j *journal) syncLoop() {
	defer close(j.done)
	t := time.NewTicker(j.opts.SyncInterval)
	defer t.Stop()
	w := time.NewTicker(min(writeBehind, j.opts.SyncInterval))
	defer w.Stop()
	r := time.NewTicker(retentionEvery)
	defer r.Stop()
	for {
		if j.sleepIfIdle() {
			select {
			case <-j.stop:
				j.syncNow()
				return
			case <-j.kick:
				j.syncAndNotify()
			case <-j.wake:
				// Records again: write them behind and sync them on
				// schedule from now.
				t.Reset(j.opts.SyncInterval)
				w.Reset(min(writeBehind, j.opts.SyncInterval))
			case <-r.C:
				j.applyRetention()
			}
			continue
		}
		select {
		case <-j.stop:
			j.syncNow()
			return
		case <-j.kick:
		case <-w.C:
			j.flushTo(^uint64(0))
			continue
		case <-r.C:
			j.applyRetention()
			continue
		case <-t.C:
		}
		j.syncAndNotify()
	}
}

// syncAndNotify syncs and has the bus publish a durability notice the
// sync left (a failure that no append saw).
func (j *journal) syncAndNotify() {
	j.syncNow()
	if j.notice.Load() != noticeNone && j.onNotice != nil {
		j.onNotice()
	}
}

// sleepIfIdle reports whether everything appended is on disk (or, under
// SyncNever, handed to the kernel) with no retired segment left to sync
// and nothing to report; the next append then wakes the syncer.
func (j *journal) sleepIfIdle() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	idle := j.failed == nil && len(j.retired) == 0 && j.appended == j.written &&
		j.durable.Load() == j.written && j.notice.Load() == noticeNone
	j.asleep = idle
	if idle {
		// A wake left from before this sleep would only cost a spurious
		// turn of the loop; drop it.
		select {
		case <-j.wake:
		default:
		}
	}
	return idle
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
			err := f.Sync()
			if j.opts.OnSync != nil {
				j.opts.OnSync(time.Since(start))
			}
			if err != nil && i == len(files)-1 {
				// The active segment's data may be lost (ENOSPC and EIO
				// surface here on some filesystems): say so.
				j.mu.Lock()
				j.fail(err)
				target = min(target, j.durable.Load())
				j.mu.Unlock()
			}
		}
		if i < len(files)-1 {
			f.Close()
		}
	}
	j.mu.Lock()
	failing := j.failed != nil
	j.mu.Unlock()
	if !failing && j.durable.Load() < target {
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
