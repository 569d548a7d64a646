package subscribers

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

// requestCodes are the codes parseRequest may answer with (the others
// come from the connection's state or the bus).
var requestCodes = []string{wire.CodeBadJSON, wire.CodeBadRequest, wire.CodeUnknownOp, wire.CodeUnknownType, wire.CodeBadPattern}

func FuzzParseRequest(f *testing.F) {
	for _, line := range []string{
		// From docs/protocol.md.
		`{"id":1,"op":"subscribe","since":"now","paths":["docs"],"globs":["**/*.go"],"excludes":["docs/tmp"],"types":["create","rename"],"name":"indexer"}`,
		`{"id":1,"op":"subscribe","since":{"epoch":"b21b914ad8c10c39","seq":19}}`,
		`{"id":2,"op":"sync"}`,
		`{"id":3,"op":"status"}`,
		`{"id":5,"op":"unsubscribe"}`,
		`{"id":"a","op":"sync","bogus":1}`,
		`{"op":"subscribe"}`,
		`{"id":3,"op":"frobnicate"}`,
		`nul`,
		// Valid subscribe variants.
		`{"op":"subscribe","since":12,"epoch":"e"}`,
		`{"op":"subscribe","since":"12","coalesce":"10ms"}`,
		`{"op":"subscribe","coalesce":2.5,"types":["open","close","write"]}`,
		`{"op":"subscribe","batch":"5ms","coalesce":"1ms"}`,
		`{"op":"subscribe","since":null,"paths":null,"globs":["a/**/b/*.c"],"excludes":["**/.git/**"],"coalesce":null}`,
		`{"op":"subscribe","paths":["/abs/../x","./y//z",""],"name":""}`,
		`{"id":null,"op":"sync"}`,
		`{"id":-1.5e3,"op":"status"}`,
		` { "op" : "sync" , "id" : "x\"y" } `,
		// Malformed ones (subscribers/server_test.go).
		`not json`,
		`{"id":1,"op":"sync"`,
		`[1,2]`,
		`null`,
		`{"id":1}`,
		`{"id":1,"op":5}`,
		`{"id":{"a":1},"op":"sync"}`,
		`{"id":1,"op":"sync","extra":1}`,
		`{"id":1,"op":"subscribe","types":["create","bogus"]}`,
		`{"id":1,"op":"subscribe","types":"create"}`,
		`{"id":1,"op":"subscribe","paths":"a"}`,
		`{"id":1,"op":"subscribe","globs":["[x"]}`,
		`{"id":1,"op":"subscribe","globs":["**/a/**/b/**"]}`,
		`{"id":1,"op":"subscribe","since":-1}`,
		`{"id":1,"op":"subscribe","since":1.5}`,
		`{"id":1,"op":"subscribe","since":"yesterday"}`,
		`{"id":1,"op":"subscribe","since":{"seq":"x"}}`,
		`{"id":1,"op":"subscribe","since":{"epoch":"a","seq":1},"epoch":"b"}`,
		`{"id":1,"op":"subscribe","since":{"seq":1,"extra":2}}`,
		`{"id":1,"op":"subscribe","name":7}`,
		`{"op":"subscribe","coalesce":"-1s"}`,
		`{"op":"subscribe","coalesce":1e300}`,
		`{"op":"subscribe","batch":"11s"}`,
		`{"op":"subscribe","coalesce":true}`,
		`{"op":"sync","op":"subscribe","since":"now"}`,
		"\x00\xff\xfe garbage",
		`{"op":"subscribe","paths":["\ud800"],"name":"\xff"}`,
		``,
	} {
		f.Add([]byte(line))
	}
	bus := eventbus.New(eventbus.Options{RingSize: 1, QueueSize: 1})
	defer bus.Close()
	probe := []*eventbus.Event{
		{Type: eventbus.Create, Path: "docs/a.go"},
		{Type: eventbus.Rename, Path: "x/y/z", From: "a/b/.git/c"},
		{Type: eventbus.Open, Path: ""},
		{Type: eventbus.Write, Path: "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z"},
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r := parseRequest(line)

		// Whatever the line, the reply head must encode: conn.go writes
		// it with an Encoder and does not check the error, so a failure
		// would leave the client without an answer.
		if _, err := json.Marshal(wire.ErrorReply{ReplyHead: wire.ReplyHead{Op: r.op, ID: r.id}, Error: "x", Code: "y"}); err != nil {
			t.Fatalf("reply for %q does not encode: %v (id %q)", line, err, r.id)
		}
		if len(r.id) > 0 && !json.Valid(r.id) {
			t.Fatalf("id %q is not JSON", r.id)
		}
		if r.fatal {
			t.Fatalf("parseRequest marked %q fatal", line)
		}

		if r.err != nil {
			if !slices.Contains(requestCodes, r.err.code) || r.err.msg == "" {
				t.Fatalf("%q: error %+v", line, r.err)
			}
			if r.sub != nil {
				t.Fatalf("%q: error %v with subscribe params", line, r.err)
			}
			return
		}
		if !json.Valid(line) {
			t.Fatalf("invalid JSON %q accepted as %q", line, r.op)
		}
		if len(r.id) > 0 {
			if c := r.id[0]; c == '{' || c == '[' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				t.Fatalf("id %q accepted", r.id)
			}
		}
		if _, ok := opFields[r.op]; !ok {
			t.Fatalf("%q accepted with op %q", line, r.op)
		}
		if (r.op == "subscribe") != (r.sub != nil) {
			t.Fatalf("%q: op %q with subscribe params %v", line, r.op, r.sub)
		}
		if r.sub == nil {
			return
		}
		p := r.sub
		if len(p.name) > maxNameLen {
			t.Fatalf("name of %d bytes accepted", len(p.name))
		}
		if p.coalesce < 0 || p.coalesce > wire.MaxWindow || p.batch < 0 || p.batch > wire.MaxWindow {
			t.Fatalf("coalesce %v or batch %v accepted", p.coalesce, p.batch)
		}
		fl := p.filter
		if n := len(fl.Prefixes) + len(fl.Globs) + len(fl.Excludes); n > maxPatterns {
			t.Fatalf("%d patterns accepted", n)
		}
		for _, g := range slices.Concat(fl.Globs, fl.Excludes) {
			if countDoubleStars(g) > maxDoubleStars {
				t.Fatalf("pattern %q accepted", g)
			}
		}
		if fl.Types == 0 {
			t.Fatal("Validate was not run: Types is 0")
		}
		// The filter is validated and normalised: validating it again
		// succeeds and changes nothing.
		again := fl
		if err := again.Validate(); err != nil {
			t.Fatalf("accepted filter %+v does not validate: %v", fl, err)
		}
		if again.Types != fl.Types || !slices.Equal(again.Prefixes, fl.Prefixes) ||
			!slices.Equal(again.Globs, fl.Globs) || !slices.Equal(again.Excludes, fl.Excludes) {
			t.Fatalf("filter not normalised:\n%+v\n%+v", fl, again)
		}
		for _, list := range [][]string{fl.Prefixes, fl.Globs, fl.Excludes} {
			for _, s := range list {
				if strings.HasPrefix(s, "/") || strings.Contains(s, "//") || s == "." || strings.HasPrefix(s, "../") {
					t.Fatalf("pattern %q not relative and clean", s)
				}
			}
		}
		// The bus takes what the protocol accepted, and matching with it
		// is quick.
		s, err := bus.Subscribe(p.name, fl, p.since)
		if err != nil {
			t.Fatalf("bus refused accepted subscription %+v: %v", p, err)
		}
		s.SetCoalesce(p.coalesce)
		s.Close()
		start := time.Now()
		for _, e := range probe {
			fl.Match(e)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("matching 4 events took %v with %+v", d, fl)
		}
	})
}
