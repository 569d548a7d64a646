package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connect opens a connection that retries for ever: a mount must come up
// and keep running whether or not NATS is reachable. Publishes are never
// buffered by the client while it is disconnected (the journal is the
// buffer), so a publish during an outage fails at once.
func connect(o *Options, name string, onChange, onDown func()) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ReconnectBufSize(-1),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.ConnectHandler(func(*nats.Conn) { onChange() }),
		nats.ReconnectHandler(func(*nats.Conn) { onChange() }),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { onDown(); onChange() }),
		nats.ClosedHandler(func(*nats.Conn) { onDown(); onChange() }),
		// Asynchronous errors (a slow consumer) are handled where they
		// show: a consumer resets, a publish fails and is retried.
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.NKey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("cluster: --nats-nkey: %w", err)
		}
		opts = append(opts, opt)
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	nc, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect %s: %w", strings.Join(o.URLs, ","), err)
	}
	return nc, nil
}

// ensureStream finds the share's stream, creating it if missing.
func ensureStream(ctx context.Context, js jetstream.JetStream, o *Options) (jetstream.Stream, error) {
	name := StreamName(o.Share)
	s, err := js.Stream(ctx, name)
	if err == nil {
		return s, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, err
	}
	s, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        name,
		Description: "notifyfs events of share " + o.Share,
		Subjects:    []string{AllSubjects(o.Share)},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      o.MaxAge,
		MaxBytes:    o.MaxBytes,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		// Long enough to cover a publisher that re-sends what it had
		// sent before a crash or a lost acknowledgement.
		Duplicates: 10 * time.Minute,
	})
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return js.Stream(ctx, name) // another host made it meanwhile
	}
	return s, err
}

// backoff sleeps before a retry, or returns false once stop is closed.
func backoff(stop <-chan struct{}, attempt int) bool {
	d := min(time.Duration(50<<min(attempt, 5))*time.Millisecond, time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop:
		return false
	case <-t.C:
		return true
	}
}
