package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/notifyfs/notifyfs/event"
)

// ErrNoStream is returned by Follow when the share has no stream (no
// clustered mount of it has ever connected).
var ErrNoStream = errors.New("cluster: the share has no stream yet")

// Follow reads a share's stream from any machine, with no mount, and
// hands fn each event that f matches, in stream order, until ctx ends or
// fn returns an error (which Follow returns; io.EOF-like sentinels are
// the caller's to define). Each event's Seq is its stream sequence, the
// share-wide cursor: since resumes after it (0: from the start; nil:
// only events stored from now on). Host and Origin are the origin
// host's.
func Follow(ctx context.Context, o Options, since *uint64, f event.Filter, fn func(*event.Event) error) error {
	if err := o.Validate(false); err != nil {
		return err
	}
	if !o.Enabled() {
		return fmt.Errorf("%w: no server (--cluster)", ErrOptions)
	}
	if err := f.Validate(); err != nil {
		return err
	}
	nc, err := connect(&o, "notifyfs watch "+o.Share, func() {}, func() {})
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	var stream jetstream.Stream
	for attempt := 0; ; attempt++ {
		// A mount may be starting, or NATS coming up: wait for the
		// stream as long as ctx allows.
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		stream, err = js.Stream(sctx, StreamName(o.Share))
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("%w: %s", ErrNoStream, o.Share)
			}
			return fmt.Errorf("cluster: %s: %w", StreamName(o.Share), err)
		}
		if !backoff(ctx.Done(), attempt) {
			return ctx.Err()
		}
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{AllSubjects(o.Share)}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if since != nil {
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
		if *since > 0 {
			cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, *since+1
		}
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1024))
	if err != nil {
		return err
	}
	defer it.Stop()
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		msg, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			continue
		}
		ev := new(event.Event)
		if err := ev.UnmarshalJSON(msg.Data()); err != nil {
			continue // not an event of ours: another writer on the subject
		}
		ev.Seq = meta.Sequence.Stream
		if !f.Match(ev) {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}
