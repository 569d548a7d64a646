package eventbus

import (
	"testing"
	"time"
)

func TestCoalesceFoldsRepeatsOnly(t *testing.T) {
	b := New(Options{})
	s, _ := b.Subscribe("c", Filter{}, nil)
	s.SetCoalesce(time.Hour)
	pub := func(typ Type, path string, pid uint32, size int64) {
		b.Publish(&Event{Type: typ, Path: path, Pid: pid, HasAttr: true, Size: size, Origin: OriginMount})
	}
	pub(Create, "f", 1, 0)
	for i := 1; i <= 5; i++ {
		pub(Write, "f", 1, int64(i))
	}
	pub(Write, "f", 2, 9) // another process: not folded
	pub(Write, "g", 2, 9) // another path
	pub(Rename, "h", 2, 9)
	pub(Rename, "h", 2, 9) // namespace changes never fold
	pub(CloseWrite, "f", 1, 5)
	got, pos, _ := s.Take(nil, 100)
	type want struct {
		typ   Type
		path  string
		count uint32
		seq   uint64
		size  int64
	}
	wants := []want{{Create, "f", 0, 1, 0}, {Write, "f", 5, 6, 5}, {Write, "f", 0, 7, 9}, {Write, "g", 0, 8, 9}, {Rename, "h", 0, 9, 9}, {Rename, "h", 0, 10, 9}, {CloseWrite, "f", 0, 11, 5}}
	if len(got) != len(wants) || pos != 11 {
		t.Fatalf("got %d events pos %d: %v", len(got), pos, got)
	}
	for i, w := range wants {
		e := got[i]
		if e.Type != w.typ || e.Path != w.path || e.Count != w.count || e.Seq != w.seq || e.Size != w.size {
			t.Errorf("event %d: %s %s count %d seq %d size %d, want %+v", i, e.Type, e.Path, e.Count, e.Seq, e.Size, w)
		}
	}
	// The shared events were not modified by folding.
	s2, _ := b.Subscribe("plain", Filter{}, &Cursor{Seq: 1})
	plain, _, _ := s2.Take(nil, 100)
	if len(plain) != 10 || plain[0].Count != 0 || plain[0].Seq != 2 {
		t.Fatalf("unfolded subscriber sees %d events, first %+v", len(plain), plain[0])
	}
}

func TestCoalesceWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	b := New(Options{Now: func() time.Time { return now }})
	s, _ := b.Subscribe("c", Filter{}, nil)
	s.SetCoalesce(10 * time.Millisecond)
	for i := 0; i < 4; i++ {
		b.Publish(&Event{Type: Write, Path: "f", Pid: 1})
		now = now.Add(6 * time.Millisecond)
	}
	got, _, _ := s.Take(nil, 100)
	// 0ms,6ms fold (within 10ms of the first); 12ms starts a new one.
	if len(got) != 2 || got[0].Count != 2 || got[1].Count != 2 {
		t.Fatalf("window: %v", got)
	}
}
