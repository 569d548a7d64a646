package watchfmt

import (
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/event"
)

func TestFormats(t *testing.T) {
	tm := time.Date(2026, 12, 6, 1, 2, 3, 4, time.UTC)
	ren := &event.Event{Seq: 7, Time: tm, Type: event.Rename, Path: "d/new", From: "old", IsDir: true, Origin: event.OriginMount, Pid: 9, Comm: "mv"}
	wr := &event.Event{Seq: 8, Time: tm, Type: event.Write, Path: "d/a,b", Size: 3, Origin: event.OriginBacking}
	reset := &event.Event{Type: event.Reset, ToSeq: 20, Epoch: "E2"}
	cases := []struct {
		o    Options
		e    *event.Event
		want string
	}{
		{Options{Format: "%w%f %E %F"}, ren, "d/new MOVED_TO,ISDIR old\n"},
		{Options{Format: "%w%f %E", Root: "d", Mount: "/m", Absolute: true}, wr, "/m/d/a,b MODIFY\n"},
		{Options{Format: "%s %e %o %c %i %n %T %%"}, ren, "7 rename mount mv 9 0 2026-12-06T01:02:03.000000004Z %\n"},
		{Options{Format: "%C", Epoch: "E1"}, wr, "E1:8\n"},
		{Options{Format: "%C", Epoch: "E1"}, reset, "E2:20\n"},
		{Options{Format: "csv"}, wr, `8,2026-12-06T01:02:03.000000004Z,write,"d/a,b",,backing,0,0,,3` + "\n"},
		{Options{Format: "text", Null: true, Mount: "/m", Absolute: true}, wr, "/m/d/a,b\x00"},
		{Options{Format: "{{.Type}}:{{.Path}}", Mount: "/m", Absolute: true}, ren, "rename:/m/d/new\n"},
		{Options{Format: "json", Mount: "/m", Absolute: true}, ren, `"path":"/m/d/new","from":"/m/old"`},
	}
	for _, c := range cases {
		f, err := New(c.o)
		if err != nil {
			t.Fatalf("%+v: %v", c.o, err)
		}
		got, err := f.Append(nil, c.e)
		if err != nil || !strings.Contains(string(got), c.want) {
			t.Errorf("%+v: got %q %v, want %q", c.o, got, err, c.want)
		}
	}
	for _, bad := range []string{"%z", "%", "{{.Nope", "yaml"} {
		if _, err := New(Options{Format: bad}); err == nil {
			t.Errorf("format %q accepted", bad)
		}
	}
}
