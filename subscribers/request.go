package subscribers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

// Limits on a subscription's filter, so that one request cannot make
// every Publish slow: filters run on the publishing path.
const (
	maxPatterns    = 256 // paths + globs + excludes
	maxDoubleStars = 2   // "**" components per glob (matching is O(n^k))
	maxNameLen     = 256
)

// protoError is an error reply: code is one of the Code constants.
type protoError struct {
	code string
	msg  string
}

func errorf(code, format string, args ...any) *protoError {
	return &protoError{code: code, msg: fmt.Sprintf(format, args...)}
}

// request is one parsed client line, handed from the reading goroutine
// to the writing one.
type request struct {
	op  string
	id  json.RawMessage // verbatim; nil is written as null
	err *protoError     // set: answer with this error
	// fatal: hang up after answering (the input stream is unusable).
	fatal bool

	sub *subscribeParams
	// syncTarget is bus.Seq() when the sync line was read: the barrier
	// covers exactly what was published before the client asked.
	syncTarget uint64
}

type subscribeParams struct {
	since    *event.Cursor // nil = now
	filter   event.Filter
	name     string
	coalesce time.Duration
	batch    time.Duration // how long events may wait to be written together
}

var opFields = map[string][]string{
	"subscribe":   {"since", "epoch", "paths", "globs", "excludes", "types", "name", "coalesce", "batch"},
	"unsubscribe": nil,
	"sync":        nil,
	"status":      nil,
}

// parseRequest parses one line. It never fails: a malformed line becomes
// a request carrying the error to send back.
func parseRequest(line []byte) request {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || !json.Valid(line) {
			return request{err: errorf(wire.CodeBadJSON, "invalid JSON: %v", err)}
		}
		return request{err: errorf(wire.CodeBadRequest, "a request must be a JSON object")}
	}
	if fields == nil {
		return request{err: errorf(wire.CodeBadRequest, "a request must be a JSON object, not null")}
	}
	r := request{id: fields["id"]}
	if len(r.id) > 0 && (r.id[0] == '{' || r.id[0] == '[') {
		return r.fail(wire.CodeBadRequest, `"id" must be a string, number or null`)
	}
	opRaw, ok := fields["op"]
	if !ok {
		return r.fail(wire.CodeBadRequest, `missing "op"`)
	}
	if err := json.Unmarshal(opRaw, &r.op); err != nil {
		return r.fail(wire.CodeBadRequest, `"op" must be a string`)
	}
	allowed, ok := opFields[r.op]
	if !ok {
		return r.fail(wire.CodeUnknownOp, "unknown op %q (want subscribe, unsubscribe, sync or status)", r.op)
	}
	for k := range fields {
		if k != "id" && k != "op" && !slices.Contains(allowed, k) {
			return r.fail(wire.CodeBadRequest, "unknown field %q in %s request", k, r.op)
		}
	}
	if r.op == "subscribe" {
		p, perr := parseSubscribe(fields)
		if perr != nil {
			r.err = perr
			return r
		}
		r.sub = p
	}
	return r
}

func (r request) fail(code, format string, args ...any) request {
	r.err = errorf(code, format, args...)
	return r
}

func countDoubleStars(pattern string) int {
	n := 0
	for _, c := range strings.Split(pattern, "/") {
		if c == "**" {
			n++
		}
	}
	return n
}

func parseSubscribe(f map[string]json.RawMessage) (*subscribeParams, *protoError) {
	p := &subscribeParams{}
	var epoch string
	if err := decodeField(f, "epoch", &epoch); err != nil {
		return nil, err
	}
	since, perr := parseSince(f["since"], epoch)
	if perr != nil {
		return nil, perr
	}
	p.since = since
	if err := decodeField(f, "name", &p.name); err != nil {
		return nil, err
	}
	if len(p.name) > maxNameLen {
		return nil, errorf(wire.CodeBadRequest, `"name" is longer than %d bytes`, maxNameLen)
	}
	for _, x := range []struct {
		key string
		dst *[]string
	}{{"paths", &p.filter.Prefixes}, {"globs", &p.filter.Globs}, {"excludes", &p.filter.Excludes}} {
		if err := decodeField(f, x.key, x.dst); err != nil {
			return nil, err
		}
	}
	if n := len(p.filter.Prefixes) + len(p.filter.Globs) + len(p.filter.Excludes); n > maxPatterns {
		return nil, errorf(wire.CodeBadRequest, "%d paths, globs and excludes; at most %d are allowed", n, maxPatterns)
	}
	for _, list := range [][]string{p.filter.Globs, p.filter.Excludes} {
		for _, g := range list {
			if n := countDoubleStars(g); n > maxDoubleStars {
				return nil, errorf(wire.CodeBadPattern, `pattern %q has %d "**" components; at most %d are allowed`, g, n, maxDoubleStars)
			}
		}
	}
	for _, x := range []struct {
		key string
		dst *time.Duration
	}{{"coalesce", &p.coalesce}, {"batch", &p.batch}} {
		if raw, ok := f[x.key]; ok && string(raw) != "null" {
			d, perr := parseWindow(x.key, raw)
			if perr != nil {
				return nil, perr
			}
			*x.dst = d
		}
	}
	var types []string
	if err := decodeField(f, "types", &types); err != nil {
		return nil, err
	}
	for _, name := range types {
		t, err := event.ParseType(name)
		if err != nil {
			return nil, errorf(wire.CodeUnknownType, "unknown event type %q in \"types\" (known: %s)", name, strings.Join(event.AllTypeNames(), ", "))
		}
		p.filter.Types |= event.MaskOf(t)
	}
	if err := p.filter.Validate(); err != nil {
		code := wire.CodeBadPattern
		if errors.Is(err, event.ErrFilterLimit) {
			code = wire.CodeLimit
		}
		return nil, errorf(code, "%s", strings.TrimPrefix(err.Error(), "event: "))
	}
	return p, nil
}

// parseWindow reads the duration of field key: a duration string
// ("10ms") or a number of milliseconds.
func parseWindow(key string, raw json.RawMessage) (time.Duration, *protoError) {
	var d time.Duration
	var s string
	var ms float64
	switch {
	case json.Unmarshal(raw, &s) == nil:
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errorf(wire.CodeBadRequest, `%q %q is not a duration (e.g. "10ms")`, key, s)
		}
	case json.Unmarshal(raw, &ms) == nil:
		d = time.Duration(ms * float64(time.Millisecond))
	default:
		return 0, errorf(wire.CodeBadRequest, `%q must be a duration string like "10ms" or a number of milliseconds`, key)
	}
	if d < 0 || d > wire.MaxWindow {
		return 0, errorf(wire.CodeBadRequest, `%q must be between 0 and %v`, key, wire.MaxWindow)
	}
	return d, nil
}

// decodeField decodes f[key] into dst; a missing key or null leaves dst
// alone.
func decodeField[T any](f map[string]json.RawMessage, key string, dst *T) *protoError {
	raw, ok := f[key]
	if !ok || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return errorf(wire.CodeBadRequest, "%q must be %s", key, describe(dst))
	}
	return nil
}

func describe(v any) string {
	switch v.(type) {
	case *string:
		return "a string"
	case *[]string:
		return "an array of strings"
	}
	return fmt.Sprintf("%T", v)
}

const sinceHelp = `"since" must be "now", a sequence number, or {"epoch":"…","seq":N}`

// parseSince reads the cursor: "now" (or absent) means no cursor; a bare
// number means this epoch unless "epoch" says otherwise.
func parseSince(raw json.RawMessage, epoch string) (*event.Cursor, *protoError) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, errorf(wire.CodeBadRequest, "%s", sinceHelp)
		}
		if s == "now" {
			return nil, nil
		}
		// Accept a decimal string too: shell users quote everything.
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, errorf(wire.CodeBadRequest, "%s, got %q", sinceHelp, s)
		}
		return &event.Cursor{Epoch: epoch, Seq: n}, nil
	case '{':
		var c struct {
			Epoch string          `json:"epoch"`
			Seq   json.RawMessage `json:"seq"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, errorf(wire.CodeBadRequest, "%s: %v", sinceHelp, err)
		}
		n, err := strconv.ParseUint(string(c.Seq), 10, 64)
		if err != nil {
			return nil, errorf(wire.CodeBadRequest, `"since.seq" must be a non-negative integer`)
		}
		if c.Epoch != "" && epoch != "" && c.Epoch != epoch {
			return nil, errorf(wire.CodeBadRequest, `"since.epoch" %q contradicts "epoch" %q`, c.Epoch, epoch)
		}
		if c.Epoch == "" {
			c.Epoch = epoch
		}
		return &event.Cursor{Epoch: c.Epoch, Seq: n}, nil
	default:
		n, err := strconv.ParseUint(string(raw), 10, 64)
		if err != nil {
			return nil, errorf(wire.CodeBadRequest, "%s, got %s", sinceHelp, raw)
		}
		return &event.Cursor{Epoch: epoch, Seq: n}, nil
	}
}
