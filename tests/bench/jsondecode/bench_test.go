package jsondecode

import (
	"encoding/json"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	gojson "github.com/goccy/go-json"

	"github.com/notifyfs/notifyfs/event"
)

type wireEvent struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Path     string    `json:"path"`
	From     string    `json:"from"`
	Target   string    `json:"target"`
	Xattr    string    `json:"xattr"`
	IsDir    bool      `json:"is_dir"`
	LastLink bool      `json:"last_link"`
	Replaced bool      `json:"replaced"`
	Exchange bool      `json:"exchange"`
	Ino      *uint64   `json:"ino"`
	Mode     uint32    `json:"mode"`
	Size     int64     `json:"size"`
	Pid      uint32    `json:"pid"`
	Uid      uint32    `json:"uid"`
	Gid      uint32    `json:"gid"`
	Comm     string    `json:"comm"`
	Origin   string    `json:"origin"`
	Host     string    `json:"host"`
	Count    uint32    `json:"count"`
	FromSeq  uint64    `json:"from_seq"`
	ToSeq    uint64    `json:"to_seq"`
	Epoch    string    `json:"epoch"`
}

// toEvent is the work any library-based decoder must do after decoding
// into the wire struct.
func toEvent(w *wireEvent, e *event.Event) {
	t, _ := event.ParseType(w.Type)
	o, _ := event.ParseOrigin(w.Origin)
	*e = event.Event{Seq: w.Seq, Time: w.Time, Type: t, Path: w.Path, From: w.From, Target: w.Target,
		Xattr: w.Xattr, IsDir: w.IsDir, LastLink: w.LastLink, Replaced: w.Replaced, Exchange: w.Exchange,
		Mode: w.Mode, Size: w.Size, Pid: w.Pid, Uid: w.Uid, Gid: w.Gid, Comm: w.Comm, Origin: o,
		Host: w.Host, Count: w.Count, FromSeq: w.FromSeq, ToSeq: w.ToSeq, Epoch: w.Epoch}
	if w.Ino != nil {
		e.HasAttr, e.Ino = true, *w.Ino
	}
}

func inputs() map[string][]byte {
	create := event.Event{Seq: 123456, Time: time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC), Type: event.Create,
		Path: "src/pkg/file.go", HasAttr: true, Ino: 123456, Mode: 0o100644,
		Pid: 4242, Uid: 1000, Gid: 1000, Comm: "touch", Origin: event.OriginMount}
	full := create
	full.Type, full.From, full.Target, full.Xattr, full.IsDir, full.Replaced = event.Rename, "old/name", "t", "user.x", true, true
	full.Count, full.FromSeq, full.ToSeq, full.Epoch = 3, 5, 9, "ep"
	esc := create
	esc.Path = "dir/with \"quotes\"\tand ünïcödé"
	return map[string][]byte{"create": create.AppendJSON(nil), "full": full.AppendJSON(nil), "escaped": esc.AppendJSON(nil)}
}

func BenchmarkDecode(b *testing.B) {
	decs := []struct {
		name string
		fn   func([]byte, *event.Event) error
	}{
		{"hand", func(d []byte, e *event.Event) error { return e.UnmarshalJSON(d) }},
		{"encoding-json", func(d []byte, e *event.Event) error {
			var w wireEvent
			err := json.Unmarshal(d, &w)
			toEvent(&w, e)
			return err
		}},
		{"go-json-experiment-v2", func(d []byte, e *event.Event) error {
			var w wireEvent
			err := jsonv2.Unmarshal(d, &w)
			toEvent(&w, e)
			return err
		}},
		{"goccy-go-json", func(d []byte, e *event.Event) error {
			var w wireEvent
			err := gojson.Unmarshal(d, &w)
			toEvent(&w, e)
			return err
		}},
	}
	in := inputs()
	for _, d := range decs {
		for _, name := range []string{"create", "full", "escaped"} {
			data := in[name]
			b.Run(d.name+"/"+name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				var e event.Event
				for b.Loop() {
					if err := d.fn(data, &e); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
