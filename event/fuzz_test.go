package event

import (
	"encoding/json"
	"testing"
	"time"
)

func FuzzEventJSON(f *testing.F) {
	for _, n := range trickyNames {
		f.Add(n, "old/"+n, "../"+n, n, uint8(Rename), int64(123456789))
	}
	f.Add("", "", "", "", uint8(Create), int64(0))
	f.Add("a\x00b", "\xff\xfe", "\"", "\\", uint8(Symlink), int64(-1))
	f.Fuzz(func(t *testing.T, p, from, target, comm string, typ uint8, ns int64) {
		e := Event{
			Seq: 1, Time: time.Unix(0, ns).UTC(), Type: Type(typ%uint8(numTypes-1)) + 1,
			Path: p, From: from, Target: target, Xattr: comm, Comm: comm,
			Origin: OriginMount, Pid: 1, HasAttr: typ%2 == 0, Count: uint32(typ),
		}
		b := e.AppendJSON(nil)
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
		var got Event
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		want := e
		want.Path, want.From, want.Target = jsonText(p), jsonText(from), jsonText(target)
		want.Xattr, want.Comm = jsonText(comm), jsonText(comm)
		if want.Count == 1 {
			want.Count = 0 // 0 and 1 both mean one; 1 is not written
		}
		if !got.Time.Equal(want.Time) {
			t.Fatalf("time %v, want %v", got.Time, want.Time)
		}
		got.Time = want.Time
		if got != want {
			t.Fatalf("round trip of %s:\n got %+v\nwant %+v", b, got, want)
		}
		// Once the names are valid UTF-8, a second trip is exact.
		var again Event
		if err := json.Unmarshal(got.AppendJSON(nil), &again); err != nil {
			t.Fatal(err)
		}
		again.Time = got.Time
		if again != got {
			t.Fatalf("second round trip:\n got %+v\nwant %+v", again, got)
		}
	})
}
