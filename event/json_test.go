package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// jsonText is what a name becomes after AppendJSON and decoding: each
// byte that is not part of valid UTF-8 turns into U+FFFD.
func jsonText(s string) string { return string([]rune(s)) }

var trickyNames = []string{
	"", "plain", `with "quotes"`, `back\slash`, "tab\there", "new\nline", "cr\r",
	"\x00nul", "\x01\x1f\x7f", "ünïcödé", "日本語", "emoji 😀", "\u2028\u2029",
	"bad \xff utf8", "\xc3", "\xed\xa0\x80 surrogate", "\xef\xbf\xbd real fffd",
	"</script>&<>", strings.Repeat("long/", 200),
}

func TestAppendJSONValid(t *testing.T) {
	for _, n := range trickyNames {
		e := &Event{
			Seq: 7, Time: time.Unix(1, 2), Type: Symlink, Path: n, From: n, Target: n, Xattr: n,
			Origin: OriginMount, Comm: n, Pid: 1,
		}
		b := e.AppendJSON(nil)
		if !json.Valid(b) {
			t.Fatalf("%q: invalid JSON %s", n, b)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if n != "" {
			for _, k := range []string{"path", "from", "target", "xattr", "comm"} {
				if m[k] != jsonText(n) {
					t.Errorf("%q: %s = %q", n, k, m[k])
				}
			}
		}
		// appendString decodes to what encoding/json makes of the name.
		want, _ := json.Marshal(n)
		if got := appendString(nil, n); jsonDecode(t, got) != jsonDecode(t, want) || jsonDecode(t, got) != jsonText(n) {
			t.Errorf("%q: appendString %s, encoding/json %s", n, got, want)
		}
	}
}

func jsonDecode(t *testing.T, b []byte) string {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return s
}

func fullEvent() Event {
	return Event{
		Seq: 42, Time: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC), Type: Rename,
		Path: "new/name", From: "old/name", Target: "t", Xattr: "user.x",
		IsDir: true, LastLink: true, Replaced: true, Exchange: true, Offline: true,
		HasAttr: true, Ino: 1 << 40, Mode: 0o100644, Size: 1 << 33,
		Pid: 123, Uid: 1000, Gid: 100, Comm: "vim", Origin: OriginBacking, Count: 3,
		FromSeq: 5, ToSeq: 9, Epoch: "ep",
	}
}

func roundTrip(t *testing.T, e *Event) Event {
	t.Helper()
	b := e.AppendJSON(nil)
	if !json.Valid(b) {
		t.Fatalf("invalid JSON %s", b)
	}
	var got Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !got.Time.Equal(e.Time) {
		t.Fatalf("time %v != %v", got.Time, e.Time)
	}
	got.Time = e.Time
	return got
}

func TestJSONRoundTrip(t *testing.T) {
	full := fullEvent()
	if got := roundTrip(t, &full); got != full {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, full)
	}
	// Every type, and the optional parts left out.
	for _, name := range AllTypeNames() {
		typ, _ := ParseType(name)
		for _, e := range []Event{
			{Type: typ, Time: time.Unix(0, 1).UTC()},
			{Type: typ, Seq: 1, Path: "p", HasAttr: true, Origin: OriginMount},
			{Type: typ, Seq: 1, Path: "p", HasAttr: true, Ino: 0, Origin: OriginRemote, Count: 2},
		} {
			if got := roundTrip(t, &e); got != e {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, e)
			}
		}
	}
	// MarshalJSON is used by encoding/json.
	b, err := json.Marshal(struct{ E *Event }{&full})
	if err != nil || !bytes.Contains(b, full.AppendJSON(nil)) {
		t.Errorf("json.Marshal: %s %v", b, err)
	}
}

func TestJSONFieldNames(t *testing.T) {
	e := fullEvent()
	var m map[string]any
	if err := json.Unmarshal(e.AppendJSON(nil), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"seq", "time", "type", "path", "from", "target", "xattr", "is_dir", "last_link",
		"replaced", "exchange", "offline", "ino", "mode", "size", "pid", "uid", "gid", "comm", "origin", "count",
		"from_seq", "to_seq", "epoch"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %v", k, m)
		}
	}
	if len(m) != 24 {
		t.Errorf("%d keys: %v", len(m), m)
	}
	if m["time"] != "2024-05-06T07:08:09.123456789Z" || m["type"] != "rename" || m["origin"] != "backing" {
		t.Errorf("values: %v", m)
	}
}

func TestJSONUnknownNames(t *testing.T) {
	in := `{"seq":9,"time":"2030-01-01T00:00:00Z","type":"teleport","path":"a","pid":4,"uid":5,"gid":6,"origin":"martian","future_field":[1,2]}`
	var e Event
	if err := json.Unmarshal([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	if e.Type != TypeNone || e.Unknown != "teleport" || e.Origin != 0 || e.Pid != 4 || e.Path != "a" {
		t.Fatalf("decoded %+v", e)
	}
	var m map[string]any
	if err := json.Unmarshal(e.AppendJSON(nil), &m); err != nil {
		t.Fatal(err)
	}
	if m["type"] != "teleport" || m["origin"] != "martian" || m["pid"] != 4.0 {
		t.Errorf("re-encoded %v", m)
	}
	if got := roundTrip(t, &e); got != e {
		t.Errorf("round trip %+v", got)
	}
	if txt := string(e.AppendText(nil)); !strings.Contains(txt, " teleport a ") || !strings.HasSuffix(txt, " martian") {
		t.Errorf("text %q", txt)
	}
	// An odd name is escaped, not pasted.
	e.Unknown = "a\"b\n"
	if b := e.AppendJSON(nil); !json.Valid(b) {
		t.Errorf("invalid %s", b)
	}
	// Strictness stays where it matters.
	if _, err := ParseType("teleport"); err == nil {
		t.Error("ParseType accepted an unknown name")
	}
	if err := json.Unmarshal([]byte(`{"path":"a"}`), &e); err == nil {
		t.Error("event without a type accepted")
	}
	if err := json.Unmarshal([]byte(`{"type":"create","seq":"x"}`), &e); err == nil {
		t.Error("bad seq accepted")
	}
}

func TestAppendTextEveryType(t *testing.T) {
	tm := time.Date(2024, 1, 2, 3, 4, 5, 678901000, time.UTC)
	for _, name := range AllTypeNames() {
		typ, _ := ParseType(name)
		e := &Event{Seq: 12, Time: tm, Type: typ, Path: "dir/file", Origin: OriginMount, Pid: 7, Uid: 8, Comm: "my prog"}
		got := string(e.AppendText(nil))
		if strings.ContainsAny(got, "\n\r") || !strings.HasPrefix(got, "12 03:04:05.678901 "+name) {
			t.Errorf("%v: %q", typ, got)
		}
	}
	for _, c := range []struct {
		e    Event
		want string
	}{
		{Event{Seq: 3, Type: Create, Path: "a b", Origin: OriginMount, Pid: 1, Uid: 2, Comm: "sh"},
			`3 00:00:00.000000 create "a b" pid=1 uid=2 comm=sh mount`},
		{Event{Seq: 4, Type: Rename, Path: "b", From: "a", Replaced: true, IsDir: true},
			`4 00:00:00.000000 rename b <- a dir replaced`},
		{Event{Seq: 5, Type: Symlink, Path: "l", Target: "../t"}, `5 00:00:00.000000 symlink l -> "../t"`},
		{Event{Seq: 6, Type: Setxattr, Path: "", Xattr: "user.a"}, `6 00:00:00.000000 setxattr . xattr=user.a`},
		{Event{Seq: 7, Type: CloseWrite, Path: "f", HasAttr: true, Size: 10, Count: 3, Origin: OriginBacking, Comm: "a\nb"},
			`7 00:00:00.000000 close_write f size=10 x3 comm="a\nb" backing`},
		{Event{Type: Overflow, FromSeq: 5, ToSeq: 9}, `0 00:00:00.000000 overflow lost 5..9`},
		{Event{Type: Reset, Epoch: "ep", ToSeq: 9}, `0 00:00:00.000000 reset epoch=ep seq=9`},
		{Event{Seq: 8, Type: Remove, Path: "bad\xffname", LastLink: true}, `8 00:00:00.000000 remove "bad\xffname" last_link`},
	} {
		c.e.Time = time.Unix(0, 0)
		if got := string(c.e.AppendText(nil)); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

func TestTypeNames(t *testing.T) {
	names := AllTypeNames()
	if len(names) != int(numTypes)-1 {
		t.Fatalf("%d names", len(names))
	}
	for _, n := range names {
		typ, err := ParseType(n)
		if err != nil || typ.String() != n {
			t.Errorf("%q: %v %v", n, typ, err)
		}
	}
	m, err := ParseTypeList(" create, open ,,")
	if err != nil || m != MaskOf(Create, Open) {
		t.Errorf("ParseTypeList: %v %v", m, err)
	}
	if _, err := ParseTypeList("create,bogus"); err == nil {
		t.Error("bogus accepted")
	}
	if DefaultTypes.Has(Open) || DefaultTypes.Has(Close) || DefaultTypes.Has(TypeNone) || !DefaultTypes.Has(Unmount) || !DefaultTypes.Has(Create) {
		t.Error("DefaultTypes")
	}
	for _, n := range []string{"mount", "backing", "remote"} {
		if o, err := ParseOrigin(n); err != nil || o.String() != n {
			t.Errorf("origin %q", n)
		}
	}
	if _, err := ParseOrigin("x"); err == nil {
		t.Error("origin x accepted")
	}
}

// A change made underneath whose process is unknown says nothing of who
// made it, rather than uid 0.
func TestUnknownActorLeftOut(t *testing.T) {
	e := &Event{Seq: 3, Type: Create, Path: "a", Origin: OriginBacking}
	j := string(e.AppendJSON(nil))
	if strings.Contains(j, `"pid"`) || strings.Contains(j, `"uid"`) || strings.Contains(j, `"gid"`) {
		t.Errorf("unknown actor encoded: %s", j)
	}
	if txt := string(e.AppendText(nil)); strings.Contains(txt, "uid=") || !strings.HasSuffix(txt, " backing") {
		t.Errorf("text: %q", txt)
	}
	e.Pid, e.Uid = 42, 1000
	if j := string(e.AppendJSON(nil)); !strings.Contains(j, `"pid":42,"uid":1000`) {
		t.Errorf("known actor: %s", j)
	}
}
