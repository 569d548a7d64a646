package event

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestCursorStringParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Cursor
	}{
		{"42", Cursor{Seq: 42}},
		{"abc:7", Cursor{Epoch: "abc", Seq: 7}},
		{"0", Cursor{}},
	} {
		got, err := ParseCursor(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseCursor(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
		if s := got.String(); s != c.in {
			t.Errorf("%+v.String() = %q, want %q", got, s, c.in)
		}
	}
	for _, bad := range []string{"", "now", "-1", "e:", "e:x", "1.5"} {
		if _, err := ParseCursor(bad); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q): %v, want ErrBadCursor", bad, err)
		}
	}
}

// TestHostEncodings: host is written only when set, in every codec, and an
// event without one keeps the journal's version 1 encoding.
func TestHostEncodings(t *testing.T) {
	e := Event{Seq: 3, Time: time.Unix(5, 0).UTC(), Type: Write, Path: "f", Origin: OriginRemote, Host: "b1", Pid: 9}
	if b := e.AppendJSON(nil); !bytes.Contains(b, []byte(`"origin":"remote","host":"b1"`)) {
		t.Errorf("JSON: %s", b)
	}
	var back Event
	if err := back.UnmarshalJSON(e.AppendJSON(nil)); err != nil || back != e {
		t.Errorf("JSON round trip: %+v %v", back, err)
	}
	if b := e.AppendText(nil); !bytes.HasSuffix(b, []byte(" remote host=b1")) {
		t.Errorf("text: %s", b)
	}
	bin := e.AppendBinary(nil)
	if bin[0] != codecVersionHost {
		t.Errorf("binary version %d with a host", bin[0])
	}
	back = Event{}
	if err := back.DecodeBinary(3, bin); err != nil || back.Host != "b1" {
		t.Errorf("binary round trip: %+v %v", back, err)
	}
	e.Host = ""
	if b := e.AppendJSON(nil); bytes.Contains(b, []byte(`host`)) {
		t.Errorf("JSON without host: %s", b)
	}
	if bin := e.AppendBinary(nil); bin[0] != codecVersion {
		t.Errorf("binary version %d without a host", bin[0])
	}
}
