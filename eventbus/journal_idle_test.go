package eventbus

import (
	"sync/atomic"
	"testing"
	"time"
)

// waitDurableSeq waits until the journal has made seq durable on its own
// schedule (the interval policy), failing after a generous bound.
func waitDurableSeq(t *testing.T, b *Bus, seq uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for b.j.durable.Load() < seq {
		if time.Now().After(deadline) {
			t.Fatalf("seq %d not durable after 10s (durable %d)", seq, b.j.durable.Load())
		}
		time.Sleep(time.Millisecond)
	}
}

// An idle journal neither fsyncs nor keeps its syncer ticking: once what
// was appended is on disk, nothing happens until the next append, which
// is then synced on schedule as before. (The syncer used to fsync the
// unchanged segment every interval and wake every 10 ms for ever.)
func TestJournalIdleDoesNotSync(t *testing.T) {
	const interval = 5 * time.Millisecond
	var syncs atomic.Int64
	b := openTestBus(t, t.TempDir(), func(o *Options) {
		o.Journal.SyncInterval = interval
		o.Journal.OnSync = func(time.Duration) { syncs.Add(1) }
	})
	defer b.Close()
	publishN(b, 10, "a")
	waitDurableSeq(t, b, b.Seq())
	// Let the syncer finish the turn that made it durable and go idle.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.j.mu.Lock()
		asleep := b.j.asleep
		b.j.mu.Unlock()
		if asleep {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the syncer never went idle")
		}
		time.Sleep(time.Millisecond)
	}
	before := syncs.Load()
	time.Sleep(40 * interval)
	if n := syncs.Load() - before; n != 0 {
		t.Fatalf("%d fsyncs in %v of idleness (every %v before the fix)", n, 40*interval, interval)
	}
	// The next event wakes it: synced without anything else happening.
	seq := b.Publish(&Event{Type: Create, Path: "after-idle", Origin: OriginMount})
	waitDurableSeq(t, b, seq)
	if syncs.Load() == before {
		t.Fatal("the event after idleness became durable without an fsync")
	}
}
