package event

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// sentinel is what a failed decode must leave alone.
var sentinel = Event{Seq: 99, Path: "untouched", Type: Chmod, originName: "x"}

// compareDecoders decodes data with both decoders and reports any
// difference.
func compareDecoders(t *testing.T, data []byte) (Event, error) {
	t.Helper()
	got, want := sentinel, sentinel
	gotErr := decodeEvent(&got, data)
	wantErr := decodeEventStd(&want, data)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("%q:\n new: %v\n std: %v", data, gotErr, wantErr)
	}
	if gotErr != nil {
		if !reflect.DeepEqual(got, sentinel) {
			t.Fatalf("%q: failed decode changed the event: %+v", data, got)
		}
		return got, gotErr
	}
	if !got.Time.Equal(want.Time) || got.Time.Format(time.RFC3339Nano) != want.Time.Format(time.RFC3339Nano) {
		t.Fatalf("%q: time %v, std %v", data, got.Time, want.Time)
	}
	got.Time = want.Time
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n new %+v\n std %+v", data, got, want)
	}
	// The fast path on its own: when it succeeds it must agree.
	fast := sentinel
	if decodeFast(&fast, data) != nil {
		if !reflect.DeepEqual(fast, sentinel) {
			t.Fatalf("%q: failed fast decode changed the event: %+v", data, fast)
		}
		return got, nil
	}
	if !fast.Time.Equal(want.Time) {
		t.Fatalf("%q: fast time %v, std %v", data, fast.Time, want.Time)
	}
	fast.Time = want.Time
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("%q:\n fast %+v\n std  %+v", data, fast, want)
	}
	return got, nil
}

// maxNestingDepth is encoding/json's limit on nested arrays and objects.
const maxNestingDepth = 10000

// TestFastPathCoversDaemonOutput: what AppendJSON writes never needs
// encoding/json.
func TestFastPathCoversDaemonOutput(t *testing.T) {
	for _, s := range decoderSeeds()[:1+len(trickyNames)] {
		var e Event
		if err := decodeFast(&e, s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
}

func decoderSeeds() [][]byte {
	var seeds [][]byte
	full := fullEvent()
	seeds = append(seeds, full.AppendJSON(nil))
	for _, n := range trickyNames {
		e := Event{
			Seq: 7, Time: time.Unix(1, 2), Type: Symlink, Path: n, From: n, Target: n, Xattr: n,
			Origin: OriginMount, Comm: n, Pid: 1, HasAttr: true, Ino: 3, Size: -1,
		}
		seeds = append(seeds, e.AppendJSON(nil))
	}
	for _, name := range AllTypeNames() {
		typ, _ := ParseType(name)
		e := Event{Type: typ, Time: time.Unix(0, 1).UTC(), Count: 2, FromSeq: 1, ToSeq: 1<<64 - 1, Epoch: "e"}
		seeds = append(seeds, e.AppendJSON(nil))
	}
	unk := Event{Type: TypeNone, Unknown: "teleport", originName: "martian", Pid: 1}
	seeds = append(seeds, unk.AppendJSON(nil))
	for _, s := range []string{
		`{"type":"create"}`,
		` {"type" : "create" , "path" : "a" } `,
		"\t\r\n{\"type\":\"create\"}\n",
		`{"type":"create","path":"a\"b\\c\/d\b\f\n\r\t\u0041\u00e9\u20ac\ud83d\ude00"}`,
		`{"type":"create","path":"\ud800","from":"\udc00x","target":"\ud800\u0041","xattr":"\ud800\ud800\udc00"}`,
		`{"type":"create","path":"\ud83d\\ude00","comm":"\uD83D\uDE00"}`,
		"{\"type\":\"create\",\"path\":\"bad \xff \xc3 \xed\xa0\x80 utf8\"}",
		`{"type":"create","future":{"a":[1,2,{"b":null}],"c":"d"},"more":[[],{}],"n":-1.5e-3}`,
		`{"type":"create","seq":null,"path":null,"ino":null,"is_dir":null,"time":null,"size":null}`,
		`{"type":"create","ino":5,"ino":null}`,
		`{"type":"create","ino":null,"ino":0}`,
		`{"type":"create","seq":5,"seq":null}`,
		`{"type":"x","type":"create","origin":"mount","origin":"moon"}`,
		`{"type":"create","seq":18446744073709551615,"size":-9223372036854775808,"mode":4294967295}`,
		`{"type":"create","seq":18446744073709551616}`,
		`{"type":"create","mode":4294967296}`,
		`{"type":"create","size":9223372036854775808}`,
		`{"type":"create","size":-0,"seq":0}`,
		`{"type":"create","seq":-0}`,
		`{"type":"create","seq":1.0}`,
		`{"type":"create","seq":1e3}`,
		`{"type":"create","seq":01}`,
		`{"type":"create","seq":"1"}`,
		`{"type":"create","path":1}`,
		`{"type":"create","is_dir":"true"}`,
		`{"type":"create","time":"2024-05-06T07:08:09.123456789+02:00"}`,
		`{"type":"create","time":"2024-05-06T07:08:09Z"}`,
		`{"type":"create","time":"2024-05-06T07:08:09\u002e5Z"}`,
		`{"type":"create","time":"2024-05-06 07:08:09Z"}`,
		`{"type":"create","time":"2024-05-06T24:00:00Z"}`,
		`{"type":"create","time":5}`,
		`{"type":"create","time":{}}`,
		`{"SEQ":1,"Type":"create","PATH":"p"}`,
		"{\"\u017feq\":1,\"type\":\"create\",\"last_lin\u212a\":true}",
		`{"s\u0065q":1,"type":"create"}`,
		`{"type":""}`,
		`{"type":"create",}`,
		`{"type":"create"}x`,
		`{"type":"create"}{}`,
		`{"type":"create","a":[1,]}`,
		`{"type":"create","a":tru}`,
		`{"type":"create","a":"\x"}`,
		"{\"type\":\"create\",\"a\":\"\x01\"}",
		`null`, `[]`, `""`, `1`, ``, `{}`, `{`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

func TestDecodeEventSeeds(t *testing.T) {
	for _, s := range decoderSeeds() {
		compareDecoders(t, s)
	}
}

func TestDecodeEventOddities(t *testing.T) {
	// What encoding/json does, pinned down, so that the oracle is known.
	for _, c := range []struct {
		in string
		ok bool
	}{
		{`{"SEQ":1,"type":"create"}`, true},
		{"{\"\u017feq\":1,\"type\":\"create\"}", true},
		{`{"type":"create","seq":-0}`, false},
		{`{"type":"create","size":-0}`, true},
		{`{"type":"create","seq":1.0}`, false},
		{`{"type":"create","time":"2024-05-06T07:08:09\u002e5Z"}`, false},
		{`{"type":"create","time":"2024-05-06T24:00:00Z"}`, false},
		{`{"type":"create","x":` + strings.Repeat("[", maxNestingDepth-1) + strings.Repeat("]", maxNestingDepth-1) + `}`, true},
		{`{"type":"create","x":` + strings.Repeat("[", maxNestingDepth) + strings.Repeat("]", maxNestingDepth) + `}`, false},
	} {
		_, err := compareDecoders(t, []byte(c.in))
		if (err == nil) != c.ok {
			t.Errorf("%.60q: %v", c.in, err)
		}
	}
	e, _ := compareDecoders(t, []byte(`{"type":"create","ino":5,"ino":null,"seq":5,"seq":null}`))
	if e.HasAttr || e.Seq != 5 {
		t.Errorf("nulls: %+v", e)
	}
}

func TestDecodeEventAllocs(t *testing.T) {
	b := typicalCreate("src/pkg/file.go").AppendJSON(nil)
	var e Event
	n := testing.AllocsPerRun(100, func() {
		if err := e.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
	})
	if n > 2 { // path and comm
		t.Errorf("%v allocations", n)
	}
}

func FuzzEventUnmarshal(f *testing.F) {
	for _, s := range decoderSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		compareDecoders(t, data)
	})
}

func BenchmarkUnmarshalJSON(b *testing.B) {
	full := fullEvent()
	escaped := typicalCreate("dir/with \"quotes\"\tand ünïcödé")
	inputs := []struct {
		name string
		data []byte
	}{
		{"create", typicalCreate("src/pkg/file.go").AppendJSON(nil)},
		{"full", full.AppendJSON(nil)},
		{"escaped", escaped.AppendJSON(nil)},
	}
	for _, dec := range []struct {
		name string
		fn   func(*Event, []byte) error
	}{{"std", decodeEventStd}, {"fast", decodeEvent}} {
		for _, in := range inputs {
			b.Run(dec.name+"/"+in.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(in.data)))
				var e Event
				for b.Loop() {
					if err := dec.fn(&e, in.data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
