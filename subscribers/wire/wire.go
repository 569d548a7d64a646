package wire

import (
	"encoding/json"
	"time"
)

// ProtocolVersion is sent in hello. It changes only when a change would
// break an existing client.
const ProtocolVersion = 1

// MaxWindow bounds the durations a subscribe may ask for: the folding
// window ("coalesce") and the batching delay ("batch").
const MaxWindow = 10 * time.Second

// Error codes sent in the "code" field of error replies.
const (
	CodeBadJSON           = "bad_json"             // the line is not JSON
	CodeBadRequest        = "bad_request"          // JSON, but not a valid request
	CodeUnknownOp         = "unknown_op"           // "op" names no operation
	CodeUnknownType       = "unknown_type"         // "types" names no event type
	CodeBadPattern        = "bad_pattern"          // a glob or exclude is malformed
	CodeAlreadySubscribed = "already_subscribed"   // second subscribe on a connection
	CodeNotSubscribed     = "not_subscribed"       // unsubscribe without a subscription
	CodeLineTooLong       = "line_too_long"        // the connection is closed after it
	CodeClosed            = "closed"               // the bus has shut down
	CodePermissionDenied  = "permission_denied"    // sent in a refused hello
	CodeLimit             = "limit"                // a filter over its size limits
	CodeTooManyConns      = "too_many_connections" // sent in a refused hello: total or per-user cap
)

// The messages below are marshalled with encoding/json, which keeps
// struct field order: "op" always comes first, so a client can tell a
// control message from an event by its first key without decoding it
// twice (events never have an "op").

// Hello is what the server says about itself when a connection opens.
type Hello struct {
	Protocol int    `json:"protocol"`
	Epoch    string `json:"epoch"`
	Seq      uint64 `json:"seq"` // the bus's seq when the connection opened
	Mount    string `json:"mount"`
	Source   string `json:"source"`
	Server   string `json:"server"`
	Pid      int    `json:"pid"`
}

// HelloMsg is the first line the server sends. A refused peer gets OK
// false with Error and Code (permission_denied) and no Hello fields.
type HelloMsg struct {
	Op     string `json:"op"` // "hello"
	OK     bool   `json:"ok"`
	*Hello        // nil in a refusal
	Error  string `json:"error,omitempty"`
	Code   string `json:"code,omitempty"`
}

// ReplyHead starts every reply to a request.
type ReplyHead struct {
	Op string          `json:"op"`
	ID json.RawMessage `json:"id"` // verbatim from the request; nil marshals as null
	OK bool            `json:"ok"`
}

// ErrorReply answers a request that failed.
type ErrorReply struct {
	ReplyHead
	Error string `json:"error"`
	Code  string `json:"code"` // one of the Code constants
}

// SubscribeReply says where a subscription starts.
type SubscribeReply struct {
	ReplyHead
	Epoch string `json:"epoch"`
	// Seq is the server's seq when it subscribed. Without a cursor the
	// stream holds exactly the matching events after Seq.
	Seq uint64 `json:"seq"`
}

// SyncReply answers a sync: every matching event with seq ≤ Seq has been
// written to the connection before it.
type SyncReply struct {
	ReplyHead
	Seq uint64 `json:"seq"`
}

// StatusReply carries the daemon's status object.
type StatusReply struct {
	ReplyHead
	Status any `json:"status"`
}
