package event

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// codecSeeds are payloads as the journal writes them.
func codecSeeds() [][]byte {
	full := &Event{Type: Rename, Path: "a/b", From: "c", Target: "t", Xattr: "x", IsDir: true, Replaced: true,
		HasAttr: true, Ino: 77, Mode: 0o100644, Size: -3, Pid: 1, Uid: 2, Gid: 3, Comm: "mv", Origin: OriginMount,
		Count: 4, FromSeq: 5, ToSeq: 6, Epoch: "ep", Unknown: "u", Time: time.Unix(1700000000, 123456789)}
	create := typicalCreate("home/user/project/src/main.go")
	create.Time = time.Unix(1700000000, 0)
	overflow := &Event{Type: Overflow, FromSeq: 1, ToSeq: 1 << 40, Time: time.Unix(0, -1)}
	return [][]byte{
		full.AppendBinary(nil),
		create.AppendBinary(nil),
		overflow.AppendBinary(nil),
		(&Event{}).AppendBinary(nil),
	}
}

func FuzzEventDecodeBinary(f *testing.F) {
	for _, s := range codecSeeds() {
		f.Add(s)
		f.Add(s[:len(s)-1]) // truncated
		f.Add(append(s, 0)) // trailing byte
		f.Add(s[:len(s)/2]) // cut in a varint or string
	}
	f.Add([]byte{})
	f.Add([]byte{codecVersion, 1, 0, 1})
	f.Add([]byte{2, 1, 0, 1, 0})
	// Non-minimal varints and unknown flag bits decode, but re-encode
	// shorter.
	f.Add([]byte{codecVersion, 200, 0xff, 9, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		var e Event
		err := e.DecodeBinary(42, data)
		if !bytes.Equal(in, data) {
			t.Fatal("decodeBinary modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrCodec) {
				t.Fatalf("error %v does not wrap ErrCodec", err)
			}
			if e != (Event{}) {
				t.Fatalf("failed decode left a partial event: %+v", e)
			}
			return
		}
		if e.Seq != 42 {
			t.Fatalf("seq %d, want the header's 42", e.Seq)
		}
		enc := e.AppendBinary(nil)
		if len(enc) > len(data) {
			t.Fatalf("re-encoding (%d bytes) longer than the input (%d): %x -> %x", len(enc), len(data), data, enc)
		}
		var again Event
		if err := again.DecodeBinary(42, enc); err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%+v\n%x", err, e, enc)
		}
		if !again.Time.Equal(e.Time) {
			t.Fatalf("time %v, want %v", again.Time, e.Time)
		}
		again.Time = e.Time
		if again != e {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, e)
		}
		if enc2 := again.AppendBinary(nil); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %x then %x", enc, enc2)
		}
		// Whatever a journal holds must be printable without panicking.
		e.AppendJSON(nil)
		e.AppendText(nil)
		_ = e.Type.String()
	})
}
