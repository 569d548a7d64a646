// Package subscribers is the notifyfs subscriber server: it owns the Unix
// socket, the handshake, one subscription per connection, the sync
// barrier and status. Events come from an eventbus.Bus; this package only
// moves them to clients. The Go client is in subscribers/client.
//
// # Protocol
//
// Newline-delimited JSON over a SOCK_STREAM Unix socket, one object per
// line, UTF-8. The server speaks first with a hello:
//
//	{"op":"hello","ok":true,"protocol":1,"epoch":"…","seq":N,"mount":"…","source":"…","server":"notifyfs","pid":P}
//
// Then the client sends requests, each {"id":ID,"op":OP,…} where ID is
// any JSON scalar (echoed verbatim in the reply) and OP is subscribe,
// unsubscribe, sync or status. Every server message other than an event
// has "op" as its first key and an "ok" field; events are bare event
// objects (event.Event.AppendJSON) and never have an "op" key. Test
// for the key's presence: error replies to unparseable lines have
// "op":"". Errors are {"op":…,"id":…,"ok":false,"error":"…","code":"…"}
// with the subscribers/wire Code* constants; apart from line_too_long the connection
// stays usable after one.
//
// A client that half-closes its end (shutdown(SHUT_WR)) gets the replies
// it is owed — including pending syncs — and then EOF; it should not
// expect events after that.
//
// # Ordering and sync
//
// One goroutine writes everything a connection receives, so a subscribe
// reply precedes the subscription's first event, and a sync reply comes
// after every event it covers. sync takes the bus's seq when the request
// line is read and is answered once the subscription's position (see
// eventbus.Subscription.Take) has reached it: every matching event with
// seq ≤ the returned value has been written to the connection before the
// reply. Without a subscription sync is answered at once. Events for one
// subscription are in seq order with no duplicates; a gap is announced by
// an overflow event, an unusable cursor by a reset event.
//
// A subscribe with "since":"now" is served as a cursor at the seq in its
// reply, so the stream starts exactly after that seq even while events
// are being published.
//
// # Access
//
// The socket is created with Options.Mode (default 0600) and group
// Options.Group, never visible with looser permissions: it is bound in a
// fresh 0700 directory, chmod-ed and chown-ed there, then hard-linked
// into place (which also refuses to replace a file that appeared
// meanwhile). A socket file left behind by a dead daemon is replaced; one
// that answers is not.
//
// Every connection's peer credentials are checked as well (SO_PEERCRED on
// Linux, LOCAL_PEERCRED on macOS and FreeBSD), so access does not rest on
// file permissions alone: root and the daemon's user are admitted; if
// the mode has the group write bit, so are peers whose gid or
// supplementary groups (from /proc/PID/status on Linux) include the
// socket's group; with the other write bit, anyone. A refused peer gets a
// hello with "ok":false and code permission_denied, and is disconnected.
// On other systems peers are not checked and the file mode is the only
// guard.
//
// An admitted peer that is neither root nor the daemon's user receives
// only the events whose paths it could look up itself (visibility.go:
// search permission on every directory from SOURCE down, decided when
// the event is delivered, cached per directory), and its status lists
// only its own uid's clients.
//
// # Limits
//
// A request line is at most Options.MaxLine bytes (default 1 MiB); a
// longer one is answered with line_too_long and the connection is
// closed, without buffering the rest (the client may then see
// ECONNRESET rather than EOF after the reply: its unread input is
// discarded). A filter holds at most 256 paths, globs and excludes,
// each glob at most two "**" components, and within event.Filter's size
// limits (code limit): filters run on the connection's goroutine, never
// on the publishing path, but they still cost CPU per event. Connections
// are capped in total and per user (Options.MaxConns, MaxConnsPerUser;
// code too_many_connections in the hello). A client that does not read
// never slows the bus and costs no memory there (its subscription is a
// position in the shared ring; behind it, it reads the journal or gets
// an overflow event); its connection is dropped once one write has been
// blocked for Options.WriteTimeout. Close waits up to
// Options.DrainTimeout for connections to deliver what they still have.
package subscribers
