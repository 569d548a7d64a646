package event

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the event as one JSON object (no newline), with the
// field names of the contract (docs/events.md). It is hand-written because
// it runs once per event per subscriber: encoding/json's reflection would
// be the largest cost of delivery.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	if e.Seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendUint(b, e.Seq, 10)
		b = append(b, ',')
	}
	b = append(b, `"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","type":`...)
	if e.Type == TypeNone && e.Unknown != "" {
		b = appendString(b, e.Unknown)
	} else {
		b = append(b, '"')
		b = append(b, e.Type.String()...)
		b = append(b, '"')
	}
	b = append(b, `,"path":`...)
	b = appendString(b, e.Path)
	b = appendOptString(b, `,"from":`, e.From)
	b = appendOptString(b, `,"target":`, e.Target)
	b = appendOptString(b, `,"xattr":`, e.Xattr)
	b = appendOptBool(b, `,"is_dir":true`, e.IsDir)
	b = appendOptBool(b, `,"last_link":true`, e.LastLink)
	b = appendOptBool(b, `,"replaced":true`, e.Replaced)
	b = appendOptBool(b, `,"exchange":true`, e.Exchange)
	b = appendOptBool(b, `,"offline":true`, e.Offline)
	if e.HasAttr {
		b = append(b, `,"ino":`...)
		b = strconv.AppendUint(b, e.Ino, 10)
		b = append(b, `,"mode":`...)
		b = strconv.AppendUint(b, uint64(e.Mode), 10)
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, e.Size, 10)
	}
	if e.Origin != 0 || e.originName != "" {
		if e.ActorKnown() {
			b = append(b, `,"pid":`...)
			b = strconv.AppendUint(b, uint64(e.Pid), 10)
			b = append(b, `,"uid":`...)
			b = strconv.AppendUint(b, uint64(e.Uid), 10)
			b = append(b, `,"gid":`...)
			b = strconv.AppendUint(b, uint64(e.Gid), 10)
		}
		b = appendOptString(b, `,"comm":`, e.Comm)
		b = append(b, `,"origin":`...)
		if e.Origin != 0 {
			b = append(b, '"')
			b = append(b, e.Origin.String()...)
			b = append(b, '"')
		} else {
			b = appendString(b, e.originName)
		}
	}
	b = appendOptString(b, `,"host":`, e.Host)
	if e.Count > 1 {
		b = append(b, `,"count":`...)
		b = strconv.AppendUint(b, uint64(e.Count), 10)
	}
	if e.FromSeq != 0 || e.ToSeq != 0 {
		b = append(b, `,"from_seq":`...)
		b = strconv.AppendUint(b, e.FromSeq, 10)
		b = append(b, `,"to_seq":`...)
		b = strconv.AppendUint(b, e.ToSeq, 10)
	}
	b = appendOptString(b, `,"epoch":`, e.Epoch)
	return append(b, '}')
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func appendOptBool(b []byte, lit string, v bool) []byte {
	if v {
		b = append(b, lit...)
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. File names are arbitrary
// bytes: invalid UTF-8 is replaced by U+FFFD, as encoding/json does, so
// the output is always valid JSON.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e *Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(nil), nil
}

// UnmarshalJSON decodes what AppendJSON encodes. It is forward
// compatible: an event whose type name this version does not know (a
// newer daemon's) decodes with Type TypeNone and the name in Unknown, and
// an unknown origin name is kept as well; AppendJSON writes both back
// unchanged. Only a missing type is an error.
//
// It accepts the same inputs and gives the same results as json.Unmarshal
// into a struct with the wire field names would, but decodes by hand
// (json_decode.go): every subscriber's client decodes every event.
func (e *Event) UnmarshalJSON(data []byte) error {
	return decodeEvent(e, data)
}
