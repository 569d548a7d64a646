package subscribers

import "encoding/json"

// ProtocolVersion is sent in hello. It changes only when a change would
// break an existing client.
const ProtocolVersion = 1

// The reply types below are marshalled with encoding/json, which keeps
// struct field order: "op" always comes first, so a client can tell a
// control message from an event by its first key without decoding it
// twice (events never have an "op").

type replyHead struct {
	Op string          `json:"op"`
	ID json.RawMessage `json:"id"` // nil marshals as null
	OK bool            `json:"ok"`
}

type errorReply struct {
	replyHead
	Error string `json:"error"`
	Code  string `json:"code"`
}

type helloMsg struct {
	Op       string `json:"op"`
	OK       bool   `json:"ok"`
	Protocol int    `json:"protocol"`
	Epoch    string `json:"epoch"`
	Seq      uint64 `json:"seq"`
	Mount    string `json:"mount"`
	Source   string `json:"source"`
	Server   string `json:"server"`
	Pid      int    `json:"pid"`
}

type refusedHello struct {
	Op    string `json:"op"`
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Code  string `json:"code"`
}

type subscribeReply struct {
	replyHead
	Epoch string `json:"epoch"`
	Seq   uint64 `json:"seq"`
}

type syncReply struct {
	replyHead
	Seq uint64 `json:"seq"`
}

type statusReply struct {
	replyHead
	Status map[string]any `json:"status"`
}
