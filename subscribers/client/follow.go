package client

import (
	"context"
	"sync"
	"time"

	"github.com/notifyfs/notifyfs/event"
)

// FollowOptions tunes Follow.
type FollowOptions struct {
	// RetryFor is how long Follow keeps trying to reconnect after the
	// connection is lost (the daemon restarting, say) before it gives up
	// and closes Events. 0 = one minute; negative = forever.
	RetryFor time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts.
	// Defaults 50ms and 2s.
	MinBackoff, MaxBackoff time.Duration
}

// setDefaults fills in the zero fields that have defaults.
func (o *FollowOptions) setDefaults() {
	if o.RetryFor == 0 {
		o.RetryFor = time.Minute
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 50 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(2*time.Second, o.MinBackoff)
	}
}

// Stream is a subscription that survives disconnects: when the
// connection ends it redials and resumes from the cursor of the last
// event it delivered, so the consumer sees each event once, in order —
// or, for events that can no longer be delivered, an overflow or reset
// event saying so.
type Stream struct {
	events chan event.Event
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	cursor event.Cursor
	err    error
}

// Follow starts a resumable subscription on the socket at path. With
// req.Since set it starts there; otherwise from now. Events arrive on
// Events until ctx ends, Close is called, or reconnecting fails for
// longer than opts.RetryFor.
func Follow(ctx context.Context, path string, req SubscribeRequest, opts FollowOptions) *Stream {
	opts.setDefaults()
	ctx, cancel := context.WithCancel(ctx)
	s := &Stream{events: make(chan event.Event, 1024), cancel: cancel, done: make(chan struct{})}
	if req.Since != nil {
		s.cursor = *req.Since
	}
	go s.run(ctx, path, req, opts)
	return s
}

// Events delivers the stream; it is closed when the stream ends.
func (s *Stream) Events() <-chan event.Event { return s.events }

// Cursor is the position after the last event delivered on Events: the
// cursor to resume from in a later Follow.
func (s *Stream) Cursor() event.Cursor {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cursor
}

// Err says why the stream ended (nil while it runs, or after Close).
func (s *Stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the stream.
func (s *Stream) Close() {
	s.cancel()
	<-s.done
}

func (s *Stream) run(ctx context.Context, path string, req SubscribeRequest, opts FollowOptions) {
	defer close(s.done)
	defer close(s.events)
	resumed := req.Since != nil
	var lostSince time.Time
	backoff := opts.MinBackoff
	for {
		err := s.session(ctx, path, req, resumed, func() {
			lostSince, backoff = time.Time{}, opts.MinBackoff
		})
		if ctx.Err() != nil {
			return
		}
		resumed = true
		if lostSince.IsZero() {
			lostSince = time.Now()
		}
		if opts.RetryFor > 0 && time.Since(lostSince) > opts.RetryFor {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, opts.MaxBackoff)
	}
}

// session runs one connection until it ends. connected is called once
// the subscription is in place.
func (s *Stream) session(ctx context.Context, path string, req SubscribeRequest, resume bool, connected func()) error {
	c, err := Dial(ctx, path)
	if err != nil {
		return err
	}
	defer c.Close()
	if resume {
		cur := s.Cursor()
		if cur.Epoch == "" {
			cur.Epoch = c.Hello().Epoch
		}
		req.Since = &cur
	}
	reply, err := c.Subscribe(ctx, req)
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.cursor.Epoch == "" || !resume {
		s.cursor = event.Cursor{Epoch: reply.Epoch, Seq: reply.Seq}
	}
	s.mu.Unlock()
	connected()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-c.Events():
			if !ok {
				return c.Err()
			}
			select {
			case s.events <- e:
				s.advance(e)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// advance moves the cursor past e.
func (s *Stream) advance(e event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case e.Type == event.Reset:
		s.cursor = event.Cursor{Epoch: e.Epoch, Seq: e.ToSeq}
	case e.Type == event.Overflow:
		s.cursor.Seq = max(s.cursor.Seq, e.ToSeq)
	case e.Seq != 0:
		s.cursor.Seq = e.Seq
	}
}
