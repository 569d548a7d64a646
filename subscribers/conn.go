package subscribers

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

const (
	takeBatch   = 512      // events per Subscription.Take
	flushAt     = 64 << 10 // write out before the buffer grows past this
	readBufSize = 4 << 10  // bufio.Reader size; lines may be longer (kept small: one per connection)
	reqQueue    = 16       // parsed requests waiting for the writer
)

// conn is one client connection. Two goroutines serve it: run (the
// writer, which owns the subscription and everything written) and
// readLoop (which parses requests and hands them over in order). Having
// one writer is what orders replies against events.
type conn struct {
	s     *Server
	id    uint64
	nc    *net.UnixConn
	since time.Time
	peer  atomic.Pointer[peer] // nil until the peer check has passed

	reqs  chan request  // closed by readLoop when input ends
	done  chan struct{} // closed when the writer has finished
	subID atomic.Uint64 // for status; 0 = not subscribed
	// counted: admit counted it against its uid's cap (forget undoes it).
	counted bool
}

func newConn(s *Server, id uint64, nc *net.UnixConn) *conn {
	return &conn{
		s: s, id: id, nc: nc, since: time.Now(),
		reqs: make(chan request, reqQueue),
		done: make(chan struct{}),
	}
}

// run serves the connection from accept to close.
func (c *conn) run() {
	defer c.s.forget(c)
	w := &writer{c: c, bus: c.s.bus}
	w.enc = json.NewEncoder(&w.out)
	w.enc.SetEscapeHTML(false)

	p, err := peerCred(c.nc)
	if err == nil {
		err = c.s.policy.check(p, peerGroups)
	}
	code := wire.CodePermissionDenied
	if err == nil {
		c.peer.Store(&p)
		if err = c.s.admit(c, &p); err != nil {
			code = wire.CodeTooManyConns
		}
	}
	if err != nil {
		w.enc.Encode(wire.HelloMsg{Op: "hello", Error: err.Error(), Code: code})
		w.flush()
		close(c.done)
		c.nc.Close()
		return
	}
	if !c.s.policy.privileged(p) && c.s.info.Source != "" {
		// Neither root nor the daemon's user: events only for what it
		// could look up itself (DESIGN §7).
		gids := []uint32{p.gid}
		if gs, err := peerGroups(p); err == nil {
			gids = append(gids, gs...)
		}
		w.vis = newVisibility(c.s.info.Source, p.uid, gids)
	}

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.readLoop()
	}()
	w.loop()
	if w.sub != nil {
		w.sub.Close()
	}
	close(c.done) // before waiting: the reader may be blocked handing over a request
	c.nc.Close()
	<-readerDone
}

var errLineTooLong = errors.New("line too long")

// readLoop reads request lines and passes them to the writer. It stops at
// EOF, on a read error, after an over-long line, or when the writer quits.
func (c *conn) readLoop() {
	defer close(c.reqs)
	br := bufio.NewReaderSize(c.nc, readBufSize)
	var buf []byte
	for {
		line, err := readLine(br, c.s.opts.MaxLine, buf[:0])
		buf = line
		if cap(buf) > readBufSize {
			buf = nil // do not keep a long line's buffer for the connection's life
		}
		var r request
		switch {
		case err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errLineTooLong):
			return // reset, or the server is closing: a partial line is not a request
		case errors.Is(err, errLineTooLong):
			r = request{err: errorf(wire.CodeLineTooLong, "request line longer than %d bytes; closing the connection", c.s.opts.MaxLine), fatal: true}
		case len(bytes.TrimSpace(line)) == 0:
			if err != nil {
				return
			}
			continue // blank lines are harmless: keep-alives from a shell
		default:
			r = parseRequest(line)
			if r.err == nil && r.op == "sync" {
				if c.s.info.Flush != nil {
					c.s.info.Flush()
				}
				r.syncTarget = c.s.bus.Seq()
			}
		}
		select {
		case c.reqs <- r:
		case <-c.done:
			return
		}
		if err != nil || r.fatal {
			return
		}
	}
}

// readLine returns the next line without its end of line, reading at
// most max bytes of it: a longer line gives errLineTooLong without
// buffering the rest. At EOF the unterminated last line is returned with
// io.EOF.
func readLine(br *bufio.Reader, max int, buf []byte) ([]byte, error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if err == nil {
			chunk = chunk[:len(chunk)-1]
		}
		// One byte of slack for the '\r' of a CRLF, which is not counted.
		if len(buf)+len(chunk) > max+1 {
			return buf, errLineTooLong
		}
		buf = append(buf, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte{'\r'})
		if len(buf) > max {
			return buf, errLineTooLong
		}
		return buf, err
	}
}

// writer is the state of the writing goroutine.
type writer struct {
	c     *conn
	bus   *eventbus.Bus
	out   bytes.Buffer
	enc   *json.Encoder
	evbuf []*eventbus.Event

	sub     *eventbus.Subscription
	vis     *visibility // nil: the peer sees everything
	pos     uint64      // from the last Take
	subDone bool        // bus closed and everything handed out
	syncs   []pendingSync

	// batch is how long the subscriber lets events wait to be written
	// together ("batch"); held says some are waiting, until hold (the
	// connection's one timer, made at the first batch) fires.
	batch time.Duration
	hold  *time.Timer
	held  bool

	eof         bool // the client will send nothing more
	fatal       bool // answer what is buffered, then hang up
	draining    bool // the server is closing
	drainTarget uint64
}

type pendingSync struct {
	id     json.RawMessage
	target uint64
}

// loop runs until the connection should end; the caller closes it.
func (w *writer) loop() {
	defer w.release()
	c := w.c
	w.enc.Encode(wire.HelloMsg{Op: "hello", OK: true, Hello: &wire.Hello{
		Protocol: wire.ProtocolVersion,
		Epoch:    w.bus.Epoch(), Seq: w.bus.Seq(),
		Mount: c.s.info.MountPoint, Source: c.s.info.Source,
		Server: "notifyfs", Pid: os.Getpid(),
	}})
	if w.flush() != nil {
		return
	}
	for !w.finished() {
		var ready <-chan struct{}
		if w.sub != nil {
			ready = w.sub.Ready()
		}
		reqs := c.reqs
		if w.eof || w.draining {
			reqs = nil
		}
		drain := c.s.drain
		if w.draining {
			drain = nil
		}
		var due <-chan time.Time
		if w.held {
			// Events are being held for the batch: what is published
			// meanwhile is taken when it is due, without waking for it.
			due, ready = w.hold.C, nil
		}
		if w.out.Len() > 0 && !w.held {
			// Batch: keep collecting while there is more right now, and
			// write once there is not.
			select {
			case r, ok := <-reqs:
				w.handle(r, ok)
			case <-ready:
				w.take()
			default:
				if w.flush() != nil {
					return
				}
				continue
			}
		} else {
			select {
			case r, ok := <-reqs:
				w.release() // an answer (a sync's) does not wait for the batch
				w.handle(r, ok)
			case <-ready:
				w.take()
				w.holdBatch()
			case <-due:
				w.held = false
				w.take()
			case <-drain:
				w.release()
				w.startDrain()
			case <-c.s.kill:
				return
			}
		}
		if w.out.Len() >= flushAt && w.flush() != nil {
			return
		}
	}
	w.flush()
}

// holdBatch starts holding what was just taken, if the subscriber asked
// for batches: it is written with whatever follows within the batch
// delay, in one write, instead of event by event — fewer wake-ups for
// the daemon's writer and for the subscriber.
func (w *writer) holdBatch() {
	if w.batch <= 0 || w.held || w.out.Len() == 0 || w.draining {
		return
	}
	if w.hold == nil {
		w.hold = time.NewTimer(w.batch)
	} else {
		w.hold.Reset(w.batch)
	}
	w.held = true
}

// release writes what is held at the next turn of the loop.
func (w *writer) release() {
	if w.held {
		w.hold.Stop()
		w.held = false
	}
}

// finished reports whether the connection has nothing more to do.
func (w *writer) finished() bool {
	switch {
	case w.fatal || w.subDone:
		return true
	case w.draining:
		return w.sub == nil || w.pos >= w.drainTarget
	case w.eof:
		// A half-closed client gets the answers it is owed, then EOF.
		return len(w.syncs) == 0
	}
	return false
}

func (w *writer) flush() error {
	if w.out.Len() == 0 {
		return nil
	}
	w.c.nc.SetWriteDeadline(time.Now().Add(w.c.s.opts.WriteTimeout))
	_, err := w.c.nc.Write(w.out.Bytes())
	w.out.Reset()
	if err != nil {
		w.fatal = true
	}
	return err
}

// take moves what the subscription has into the output buffer and
// answers every sync the new position covers.
func (w *writer) take() {
	evs, pos, done := w.sub.Take(w.evbuf[:0], takeBatch)
	for _, e := range evs {
		if w.vis != nil {
			if e = w.vis.filter(e); e == nil {
				continue
			}
		}
		b := e.AppendJSON(w.out.AvailableBuffer())
		w.out.Write(append(b, '\n'))
	}
	clear(evs) // let events that have left the ring be collected
	w.evbuf = evs[:0]
	w.pos = pos
	w.subDone = done
	w.answerSyncs(pos)
}

// answerSyncs replies to the syncs whose target is covered by pos. The
// events up to pos are already in the buffer ahead of the reply.
func (w *writer) answerSyncs(pos uint64) {
	n := 0
	for n < len(w.syncs) && w.syncs[n].target <= pos {
		w.enc.Encode(wire.SyncReply{ReplyHead: wire.ReplyHead{Op: "sync", ID: w.syncs[n].id, OK: true}, Seq: w.syncs[n].target})
		n++
	}
	w.syncs = append(w.syncs[:0], w.syncs[n:]...)
}

func (w *writer) startDrain() {
	w.draining = true
	// Stop reading: requests from now on would not be answered.
	w.c.nc.SetReadDeadline(time.Now())
	if w.sub != nil {
		w.drainTarget = w.bus.Seq()
		w.take()
	}
}

func (w *writer) handle(r request, ok bool) {
	if !ok {
		w.eof = true
		return
	}
	if r.err != nil {
		w.fail(r, r.err)
		w.fatal = r.fatal
		return
	}
	switch r.op {
	case "subscribe":
		w.subscribe(r)
	case "unsubscribe":
		if w.sub == nil {
			w.fail(r, errorf(wire.CodeNotSubscribed, "not subscribed"))
			return
		}
		w.sub.Close()
		w.sub, w.subDone = nil, false
		w.c.subID.Store(0)
		w.answerSyncs(^uint64(0)) // nothing more is coming for them
		w.enc.Encode(wire.ReplyHead{Op: "unsubscribe", ID: r.id, OK: true})
	case "sync":
		if w.sub == nil {
			w.enc.Encode(wire.SyncReply{ReplyHead: wire.ReplyHead{Op: "sync", ID: r.id, OK: true}, Seq: r.syncTarget})
			return
		}
		w.syncs = append(w.syncs, pendingSync{r.id, r.syncTarget})
		w.take()
	case "status":
		w.enc.Encode(wire.StatusReply{ReplyHead: wire.ReplyHead{Op: "status", ID: r.id, OK: true}, Status: w.c.s.status(w.c.peer.Load())})
	}
}

func (w *writer) fail(r request, e *protoError) {
	w.enc.Encode(wire.ErrorReply{ReplyHead: wire.ReplyHead{Op: r.op, ID: r.id}, Error: e.msg, Code: e.code})
}

func (w *writer) subscribe(r request) {
	if w.sub != nil {
		w.fail(r, errorf(wire.CodeAlreadySubscribed, "already subscribed on this connection (one subscription per connection; unsubscribe first)"))
		return
	}
	p := r.sub
	sub, err := w.bus.Subscribe(p.name, p.filter, p.since)
	if err != nil {
		if errors.Is(err, eventbus.ErrClosed) {
			w.fail(r, errorf(wire.CodeClosed, "the mount is shutting down"))
		} else {
			w.fail(r, errorf(wire.CodeBadRequest, "%v", err))
		}
		return
	}
	sub.SetCoalesce(p.coalesce)
	w.sub, w.pos, w.batch = sub, 0, p.batch
	w.c.subID.Store(sub.ID())
	// Written before any event: events are only taken after this returns.
	// StartSeq is exact: with "now" the stream is the events after it.
	w.enc.Encode(wire.SubscribeReply{ReplyHead: wire.ReplyHead{Op: "subscribe", ID: r.id, OK: true}, Epoch: w.bus.Epoch(), Seq: sub.StartSeq()})
}
