package eventbus

import (
	"sync"
	"testing"
	"time"
)

// TestJournalCloseWhileWaitersSeeItFail: under SyncAlways publishers wait
// for their events to be durable. When the journal fails (a write error)
// they must give up, and a Close at the same moment must not deadlock
// against them. The journal once took its two locks in opposite orders
// here: a woken waiter held the durability lock and asked for the journal
// lock to see the failure, while Close held the journal lock and asked for
// the durability lock to wake the waiters.
func TestJournalCloseWhileWaitersSeeItFail(t *testing.T) {
	for round := range 50 {
		b, err := OpenBus(Options{Journal: JournalOptions{Dir: t.TempDir(), Sync: SyncAlways}})
		if err != nil {
			t.Fatal(err)
		}
		j := b.j
		// Publishers whose events never become durable: the journal
		// fails before it writes them.
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j.waitDurable(1 << 40)
			}()
		}
		// A record in the buffer and a closed file: the next flush fails.
		j.append(&Event{Seq: 1, Type: Write, Path: "f"})
		j.mu.Lock()
		j.f.Close()
		j.mu.Unlock()
		done := make(chan struct{})
		go func() {
			j.close()
			wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: close and the publishers waiting for durability deadlocked", round)
		}
		b.closed = true
	}
}
