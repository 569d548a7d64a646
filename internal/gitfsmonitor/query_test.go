package gitfsmonitor

import (
	"bytes"
	"sort"
	"strings"
	"testing"

	"github.com/notifyfs/notifyfs/event"
)

func TestToken(t *testing.T) {
	tok := token{epoch: "ab12", seq: 42, run: "7.99"}
	got, ok := parseToken(tok.String())
	if !ok || got != tok {
		t.Fatalf("round trip of %v: %v %v", tok, got, ok)
	}
	for _, s := range []string{"", "1733520000000000000", "notifyfs:", "notifyfs:e:x:r", "notifyfs:e:1:", "notifyfs::1:r"} {
		if _, ok := parseToken(s); ok {
			t.Errorf("parseToken(%q) accepted", s)
		}
	}
}

func TestAddEvent(t *testing.T) {
	cases := []struct {
		worktree string
		ev       event.Event
		want     string // paths, comma-separated; "*" = everything
	}{
		{"", event.Event{Type: event.Write, Path: "a/b"}, "a/b"},
		{"w", event.Event{Type: event.Write, Path: "w/a"}, "a"},
		{"w", event.Event{Type: event.Write, Path: "wx/a"}, ""},
		{"w", event.Event{Type: event.Chmod, Path: "w"}, ""},
		{"w", event.Event{Type: event.Chmod, Path: ""}, ""},
		{"w", event.Event{Type: event.Write, Path: "w/.git/index"}, ""},
		{"w", event.Event{Type: event.Mkdir, Path: "w/d", IsDir: true}, "d/"},
		{"w", event.Event{Type: event.Rename, Path: "w/n", From: "w/o", IsDir: true}, "n/,o/"},
		{"w", event.Event{Type: event.Rename, Path: "w/n", From: "elsewhere"}, "n"},
		{"p/w", event.Event{Type: event.Rename, Path: "q", From: "p", IsDir: true}, "*"},
		{"w", event.Event{Type: event.Rmdir, Path: "w", IsDir: true}, "*"},
		{"w", event.Event{Type: event.Overflow}, "*"},
		{"w", event.Event{Type: event.Rescan, Path: "w/x"}, "*"},
		{"w", event.Event{Type: event.Reset}, "*"},
		{"w", event.Event{Type: event.Unmount}, ""},
	}
	for _, c := range cases {
		paths := map[string]bool{}
		got := "*"
		if addEvent(paths, c.worktree, &c.ev) {
			var l []string
			for p := range paths {
				l = append(l, p)
			}
			sort.Strings(l)
			got = strings.Join(l, ",")
		}
		if got != c.want {
			t.Errorf("worktree %q, %v %q<-%q: got %q, want %q", c.worktree, c.ev.Type, c.ev.Path, c.ev.From, got, c.want)
		}
	}
}

func TestWriteTo(t *testing.T) {
	var b bytes.Buffer
	(&Answer{Token: "T", Paths: []string{"a", "d/"}}).WriteTo(&b)
	(&Answer{Token: "U", Everything: true}).WriteTo(&b)
	if got, want := b.String(), "T\x00a\x00d/\x00U\x00/\x00"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}
