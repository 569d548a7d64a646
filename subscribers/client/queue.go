package client

import (
	"sync"

	"github.com/notifyfs/notifyfs/event"
)

// chanSize is the buffer of the Events channel. While the caller keeps
// up, events sit in the channel itself, so a non-blocking receive right
// after Sync finds them; beyond it they wait in the unbounded queue.
const chanSize = 1024

// blockSize is how many events one block of the queue holds. The queue
// is a list of fixed blocks rather than one growing slice: a caller
// that falls far behind (a backlog replayed faster than it is written
// out) would otherwise make every growth copy the whole backlog again,
// a long copy the garbage collector cannot interrupt, and keep what was
// already handed over alive until the queue empties once.
const blockSize = 256

type block [blockSize]event.Event

// blocks is a FIFO of events in fixed-size blocks: pushed at the tail
// block, taken from the head block; a block is let go once taken empty.
type blocks struct {
	list       []*block
	head, tail int // next to take in list[0]; next free slot in the last block
	n          int
	spare      *block // one emptied block kept for the next push
}

func (b *blocks) len() int { return b.n }

func (b *blocks) push(e event.Event) {
	if len(b.list) == 0 || b.tail == blockSize {
		nb := b.spare
		b.spare = nil
		if nb == nil {
			nb = new(block)
		}
		b.list = append(b.list, nb)
		b.tail = 0
	}
	b.list[len(b.list)-1][b.tail] = e
	b.tail++
	b.n++
}

// take removes the oldest event; the queue must not be empty.
func (b *blocks) take() event.Event {
	first := b.list[0]
	e := first[b.head]
	first[b.head] = event.Event{} // release its strings
	b.head++
	b.n--
	if b.head == blockSize || b.n == 0 {
		// The head block is used up (or the queue is empty): drop it.
		if len(b.list) == 1 {
			b.tail = 0
		}
		b.list[0] = nil
		b.list = b.list[1:]
		if len(b.list) == 0 {
			b.list = b.list[:0:0]
		}
		b.head = 0
		b.spare = first
	}
	return e
}

// clear drops every queued event.
func (b *blocks) clear() { *b = blocks{} }

// queue moves events from the reading goroutine to the Events channel
// without ever blocking the reader: a caller that calls Sync but has not
// drained Events must not stop the sync reply from being read.
type queue struct {
	out  chan event.Event
	wake chan struct{}

	mu      sync.Mutex
	items   blocks
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
	if !q.busy && q.items.len() == 0 {
		select {
		case q.out <- e:
			return
		default:
		}
	}
	q.items.push(e)
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
		q.items.clear()
		close(q.out)
		q.mu.Unlock()
	}()
	for {
		q.mu.Lock()
		for q.items.len() == 0 {
			closed := q.closed
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
		e := q.items.take()
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
