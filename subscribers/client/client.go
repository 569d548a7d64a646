package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

// ProtocolVersion is the protocol this client speaks.
const ProtocolVersion = wire.ProtocolVersion

// maxLine bounds one line from the server. Events are a few KiB at most
// (paths are bounded by PATH_MAX); status is the only large message.
const maxLine = 64 << 20

// ErrClosed is the Err of a client closed with Close.
var ErrClosed = errors.New("client: closed")

// ServerError is an error reply from the server.
type ServerError struct {
	Op      string // the request's op
	Code    string // machine-readable: bad_request, unknown_type, already_subscribed, ...
	Message string // names the problem
}

func (e *ServerError) Error() string {
	op := e.Op
	if op == "" {
		op = "request"
	}
	return fmt.Sprintf("notifyfs: %s: %s (%s)", op, e.Message, e.Code)
}

// Hello is what the server says when a connection opens.
type Hello = wire.Hello

// SubscribeRequest chooses what a subscription receives.
type SubscribeRequest struct {
	// Since resumes after this cursor; nil means from now on. A cursor
	// with an empty Epoch means the server's current epoch. If the server
	// cannot serve the cursor, the stream starts with a reset event.
	Since *event.Cursor
	// Paths are path prefixes relative to the mount root; Globs match
	// whole relative paths ("**" = any number of components); Excludes
	// are prefixes or globs that drop an event. Empty = everything.
	Paths, Globs, Excludes []string
	// Types are event type names (event.Type.String); empty = every
	// change type. open and close are sent only if named here.
	Types []string
	// Name labels the subscription in status output.
	Name string
	// Coalesce folds repeated identical events (same type, path and
	// process; never namespace changes) waiting together within this
	// window into one event with a count. 0 = off.
	Coalesce time.Duration
	// Batch lets the server hold an event up to this long to write it
	// together with the ones that follow: one write and one wake-up per
	// batch instead of per event, for a subscriber that does not need
	// each event at once (a build tool, a sync daemon). A sync is still
	// answered at once. 0 = every event as soon as possible.
	Batch time.Duration
}

// SubscribeReply says where the subscription starts.
type SubscribeReply struct {
	Epoch string
	// Seq is the server's seq when it subscribed. Without Since the
	// stream holds exactly the matching events after Seq.
	Seq uint64
}

// reply is one control message, decoded once its id is known.
type reply struct {
	line []byte
	err  error // *ServerError, or why the connection ended
}

// Client is one connection to the subscriber socket.
type Client struct {
	nc    net.Conn
	hello Hello
	ids   atomic.Uint64
	wmu   sync.Mutex // one request written at a time

	mu      sync.Mutex
	pending map[uint64]chan reply
	err     error // why the connection ended; nil while it is open
	orphan  error // an error reply that matched no request

	q    *queue
	done chan struct{} // closed when the reading goroutine has finished
}

// Dial connects to the socket and reads the server's hello. ctx bounds
// the connect and the hello only.
func Dial(ctx context.Context, socketPath string) (*Client, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", socketPath)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	stop := context.AfterFunc(ctx, func() { nc.SetReadDeadline(time.Unix(1, 0)) })
	line, err := readLine(br)
	if !stop() {
		nc.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("notifyfs: reading hello: %w", err)
	}
	h := wire.HelloMsg{Hello: &wire.Hello{}}
	if err := json.Unmarshal(line, &h); err != nil || h.Op != "hello" {
		nc.Close()
		return nil, fmt.Errorf("notifyfs: %s does not speak the notifyfs protocol (first line %.100q)", socketPath, line)
	}
	if !h.OK {
		nc.Close()
		return nil, &ServerError{Op: "hello", Code: h.Code, Message: h.Error}
	}
	if h.Protocol != ProtocolVersion {
		nc.Close()
		return nil, fmt.Errorf("notifyfs: server speaks protocol %d, this client %d", h.Protocol, ProtocolVersion)
	}
	c := &Client{
		nc: nc, hello: *h.Hello,
		pending: make(map[uint64]chan reply),
		q:       newQueue(),
		done:    make(chan struct{}),
	}
	go c.q.pump()
	go c.readLoop(br)
	return c, nil
}

// Hello returns the server's greeting.
func (c *Client) Hello() Hello { return c.hello }

// Events delivers the subscription's events in order. It is closed when
// the connection ends (after the unmount event when the mount goes away);
// Err then says why. Events are queued without bound inside the client,
// so a caller that is slow to receive never stalls requests.
func (c *Client) Events() <-chan event.Event { return c.q.out }

// Err returns nil while the connection is open, and afterwards why it
// ended: ErrClosed after Close, an error wrapping io.EOF when the server
// hung up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection. Events not yet received are discarded and
// the Events channel is closed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.err == nil {
		c.err = ErrClosed
	}
	c.mu.Unlock()
	c.nc.Close()
	<-c.done
	c.q.abandon()
	return nil
}

// Subscribe starts the connection's subscription (one per connection).
// Its events follow on Events: the server sends the reply before the
// first of them. Errors from the server are *ServerError, e.g. code
// unknown_type or already_subscribed.
func (c *Client) Subscribe(ctx context.Context, req SubscribeRequest) (SubscribeReply, error) {
	fields := map[string]any{"since": "now"}
	if s := req.Since; s != nil {
		if s.Epoch != "" {
			fields["since"] = map[string]any{"epoch": s.Epoch, "seq": s.Seq}
		} else {
			fields["since"] = s.Seq
		}
	}
	for k, v := range map[string][]string{"paths": req.Paths, "globs": req.Globs, "excludes": req.Excludes, "types": req.Types} {
		if len(v) > 0 {
			fields[k] = v
		}
	}
	if req.Name != "" {
		fields["name"] = req.Name
	}
	if req.Coalesce > 0 {
		fields["coalesce"] = req.Coalesce.String()
	}
	if req.Batch > 0 {
		fields["batch"] = req.Batch.String()
	}
	var r wire.SubscribeReply
	if err := c.call(ctx, "subscribe", fields, &r); err != nil {
		return SubscribeReply{}, err
	}
	return SubscribeReply{Epoch: r.Epoch, Seq: r.Seq}, nil
}

// Unsubscribe ends the subscription; the connection stays open.
func (c *Client) Unsubscribe(ctx context.Context) error {
	return c.call(ctx, "unsubscribe", nil, nil)
}

// Sync is the barrier: it returns a seq at or above every event
// published before it was called, and by the time it returns every
// matching event up to that seq is already queued on Events, ahead of
// anything later. Events need not be drained for Sync to return.
func (c *Client) Sync(ctx context.Context) (uint64, error) {
	var r wire.SyncReply
	err := c.call(ctx, "sync", nil, &r)
	return r.Seq, err
}

// Status returns the server's status object. Numbers are json.Number, so
// that sequence numbers keep all 64 bits.
func (c *Client) Status(ctx context.Context) (map[string]any, error) {
	var r struct {
		Status map[string]any `json:"status"`
	}
	err := c.call(ctx, "status", nil, &r)
	return r.Status, err
}

// call sends one request and waits for its reply, decoding it into out.
func (c *Client) call(ctx context.Context, op string, fields map[string]any, out any) error {
	id := c.ids.Add(1)
	// id and op first: the protocol does not need it, but it makes the
	// wire readable.
	var buf bytes.Buffer
	fmt.Fprintf(&buf, `{"id":%d,"op":%q`, id, op)
	if len(fields) > 0 {
		b, err := json.Marshal(fields)
		if err != nil {
			return err
		}
		buf.WriteByte(',')
		buf.Write(b[1:]) // without its '{'
	} else {
		buf.WriteByte('}')
	}
	buf.WriteByte('\n')

	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	c.pending[id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}

	if err := c.write(ctx, buf.Bytes()); err != nil {
		forget()
		return err
	}
	select {
	case r := <-ch:
		if r.err != nil {
			return r.err
		}
		if out != nil {
			d := json.NewDecoder(bytes.NewReader(r.line))
			d.UseNumber() // status numbers keep all 64 bits
			if err := d.Decode(out); err != nil {
				return fmt.Errorf("notifyfs: bad %s reply: %w", op, err)
			}
		}
		return nil
	case <-ctx.Done():
		forget() // a late reply is dropped by the reader
		return ctx.Err()
	}
}

// write sends one request line. A write cut short would leave half a
// request on the stream, so any failure ends the connection. Writes do
// not block for long in practice: the server reads requests as they
// come, as long as we read its output, which readLoop always does.
func (c *Client) write(ctx context.Context, b []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	deadline, _ := ctx.Deadline() // zero: none
	c.nc.SetWriteDeadline(deadline)
	if _, err := c.nc.Write(b); err != nil {
		c.nc.Close()
		return fmt.Errorf("notifyfs: sending request: %w", err)
	}
	return nil
}

// readLoop reads every line from the server: events go to the queue,
// replies to the request waiting for them, in the order they arrive —
// which is why a sync reply is only handed out after the events it
// covers are queued.
func (c *Client) readLoop(br *bufio.Reader) {
	var err error
	for {
		var line []byte
		line, err = readLine(br)
		if err != nil {
			break
		}
		if !bytes.HasPrefix(line, []byte(`{"op":`)) {
			var e event.Event
			if e.UnmarshalJSON(line) == nil {
				c.q.push(e)
				continue
			}
		}
		if err = c.dispatch(line); err != nil {
			break
		}
	}
	c.finish(err)
}

// dispatch hands a control message to the request it answers.
func (c *Client) dispatch(line []byte) error {
	var m struct {
		wire.ErrorReply
		Op *string `json:"op"` // shadows ErrorReply's: nil tells an event apart
	}
	if err := json.Unmarshal(line, &m); err != nil || m.Op == nil {
		return fmt.Errorf("notifyfs: unexpected line from server: %.200q", line)
	}
	r := reply{line: bytes.Clone(line)}
	if !m.OK {
		r.err = &ServerError{Op: *m.Op, Code: m.Code, Message: m.Error}
	}
	id, perr := strconv.ParseUint(string(m.ID), 10, 64)
	c.mu.Lock()
	ch, ok := c.pending[id]
	delete(c.pending, id)
	if (!ok || perr != nil) && r.err != nil {
		// Not for any request (e.g. line_too_long): keep it, it may
		// explain why the server is about to hang up.
		c.orphan = r.err
	}
	c.mu.Unlock()
	if ok && perr == nil {
		ch <- r
	}
	return nil
}

// finish records why the connection ended and fails waiting requests.
func (c *Client) finish(err error) {
	c.mu.Lock()
	if c.err == nil {
		switch {
		case c.orphan != nil:
			c.err = c.orphan
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			c.err = fmt.Errorf("notifyfs: server closed the connection: %w", err)
		default:
			c.err = err
		}
	}
	for id, ch := range c.pending {
		ch <- reply{err: c.err}
		delete(c.pending, id)
	}
	c.mu.Unlock()
	c.nc.Close()
	c.q.close()
	close(c.done)
}

func readLine(br *bufio.Reader) ([]byte, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxLine {
			return nil, fmt.Errorf("notifyfs: line from server longer than %d bytes", maxLine)
		}
		if err == bufio.ErrBufferFull {
			buf = append(buf, chunk...)
			continue
		}
		if err != nil {
			if err == io.EOF && len(buf)+len(chunk) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if buf == nil {
			return chunk[:len(chunk)-1], nil // valid until the next read
		}
		buf = append(buf, chunk...)
		return buf[:len(buf)-1], nil
	}
}
