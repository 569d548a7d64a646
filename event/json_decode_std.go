package event

import (
	"encoding/json"
	"errors"
	"time"
)

// wireEvent and decodeEventStd decode an event with encoding/json: what
// the fast path in json_decode.go does not handle (a newer daemon's
// fields, odd spellings, malformed input) is decoded here, so the
// semantics and the error messages are encoding/json's.
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
	Offline  bool      `json:"offline"`
	Ino      *uint64   `json:"ino"`
	Mode     uint32    `json:"mode"`
	Size     int64     `json:"size"`
	Pid      uint32    `json:"pid"`
	Uid      uint32    `json:"uid"`
	Gid      uint32    `json:"gid"`
	Comm     string    `json:"comm"`
	Origin   string    `json:"origin"`
	Count    uint32    `json:"count"`
	FromSeq  uint64    `json:"from_seq"`
	ToSeq    uint64    `json:"to_seq"`
	Epoch    string    `json:"epoch"`
	Host     string    `json:"host"`
}

func decodeEventStd(e *Event, data []byte) error {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	if w.Type == "" {
		return errors.New("event: event without a type")
	}
	t, err := ParseType(w.Type)
	unknown := ""
	if err != nil {
		t, unknown = TypeNone, w.Type
	}
	var o Origin
	originName := ""
	if w.Origin != "" {
		if o, err = ParseOrigin(w.Origin); err != nil {
			o, originName = 0, w.Origin
		}
	}
	*e = Event{
		Unknown: unknown, originName: originName,
		Seq: w.Seq, Time: w.Time, Type: t, Path: w.Path, From: w.From,
		Target: w.Target, Xattr: w.Xattr, IsDir: w.IsDir, LastLink: w.LastLink,
		Replaced: w.Replaced, Exchange: w.Exchange, Offline: w.Offline, Mode: w.Mode, Size: w.Size,
		Pid: w.Pid, Uid: w.Uid, Gid: w.Gid, Comm: w.Comm, Origin: o,
		Count: w.Count, FromSeq: w.FromSeq, ToSeq: w.ToSeq, Epoch: w.Epoch, Host: w.Host,
	}
	if w.Ino != nil {
		e.HasAttr, e.Ino = true, *w.Ino
	}
	return nil
}
