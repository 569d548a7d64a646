package client

import (
	"testing"

	"github.com/notifyfs/notifyfs/event"
)

// TestBlocksFIFO pushes and takes in uneven runs across many blocks:
// every event comes out once, in order, and the queue is empty at the
// end with no block left behind.
func TestBlocksFIFO(t *testing.T) {
	var b blocks
	var pushed, taken uint64
	for round := 0; round < 50; round++ {
		for i := 0; i < (round*37)%700+1; i++ {
			pushed++
			b.push(event.Event{Seq: pushed, Path: "p"})
		}
		for i := 0; i < (round*53)%650 && b.len() > 0; i++ {
			taken++
			if e := b.take(); e.Seq != taken {
				t.Fatalf("took seq %d, want %d", e.Seq, taken)
			}
		}
		if b.len() != int(pushed-taken) {
			t.Fatalf("len %d, want %d", b.len(), pushed-taken)
		}
	}
	for b.len() > 0 {
		taken++
		if e := b.take(); e.Seq != taken {
			t.Fatalf("took seq %d, want %d", e.Seq, taken)
		}
	}
	if taken != pushed || len(b.list) != 0 {
		t.Fatalf("took %d of %d; %d blocks left", taken, pushed, len(b.list))
	}
}

// TestQueueOrderWhileBehind: a reader far behind the pushes receives
// every event once and in order, then the channel closes.
func TestQueueOrderWhileBehind(t *testing.T) {
	q := newQueue()
	go q.pump()
	const n = 20000
	for i := 1; i <= n; i++ {
		q.push(event.Event{Seq: uint64(i)})
	}
	q.close()
	want := uint64(1)
	for e := range q.out {
		if e.Seq != want {
			t.Fatalf("got seq %d, want %d", e.Seq, want)
		}
		want++
	}
	if want != n+1 {
		t.Fatalf("got %d events, want %d", want-1, n)
	}
}

// BenchmarkQueueBacklog: a backlog pushed far ahead of the reader, as a
// replay from a cursor makes it (the reader decodes faster than its
// caller writes out), then drained.
func BenchmarkQueueBacklog(b *testing.B) {
	e := event.Event{Type: event.Create, Path: "src/pkg/file_000001.go", HasAttr: true, Comm: "writer"}
	for i := 0; i < b.N; i++ {
		q := newQueue()
		go q.pump()
		for j := 0; j < 100000; j++ {
			e.Seq = uint64(j + 1)
			q.push(e)
		}
		q.close()
		for range q.out {
		}
	}
	b.ReportMetric(float64(b.N)*100000/b.Elapsed().Seconds(), "events/s")
}
