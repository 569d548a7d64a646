package client

import (
	"sync"

	"github.com/notifyfs/notifyfs/event"
)

// chanSize is the buffer of the Events channel. While the caller keeps
// up, events sit in the channel itself, so a non-blocking receive right
// after Sync finds them; beyond it they wait in the unbounded queue.
const chanSize = 1024

// queue moves events from the reading goroutine to the Events channel
// without ever blocking the reader: a caller that calls Sync but has not
// drained Events must not stop the sync reply from being read.
type queue struct {
	out  chan event.Event
	wake chan struct{}

	mu      sync.Mutex
	items   []event.Event
	head    int
	busy    bool // pump holds an event it has not handed over yet
	closed  bool // no more pushes; close out once empty
	dead    bool // out is closed; drop pushes
	quit    chan struct{}
	quitted bool
}

func newQueue() *queue {
	return &queue{
		out:  make(chan event.Event, chanSize),
		wake: make(chan struct{}, 1),
		quit: make(chan struct{}),
	}
}

// push never blocks.
func (q *queue) push(e event.Event) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.dead {
		return
	}
	// Straight into the channel when nothing older is waiting: order
	// holds, and the event is receivable at once.
	if !q.busy && q.head == len(q.items) {
		select {
		case q.out <- e:
			return
		default:
		}
	}
	q.items = append(q.items, e)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// close says no more events will be pushed.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// abandon drops undelivered events and closes out (Client.Close).
func (q *queue) abandon() {
	q.mu.Lock()
	if !q.quitted {
		q.quitted = true
		close(q.quit)
	}
	q.mu.Unlock()
}

// pump moves queued events to out, then closes out.
func (q *queue) pump() {
	defer func() {
		q.mu.Lock()
		q.dead = true
		q.items, q.head = nil, 0
		close(q.out)
		q.mu.Unlock()
	}()
	for {
		q.mu.Lock()
		for q.head == len(q.items) {
			closed := q.closed
			q.items, q.head = q.items[:0], 0
			q.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-q.wake:
			case <-q.quit:
				return
			}
			q.mu.Lock()
		}
		e := q.items[q.head]
		q.items[q.head] = event.Event{} // release its strings
		q.head++
		q.busy = true
		q.mu.Unlock()

		select {
		case q.out <- e:
		case <-q.quit:
			return
		}
		q.mu.Lock()
		q.busy = false
		q.mu.Unlock()
	}
}
