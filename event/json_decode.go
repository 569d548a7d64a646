package event

import (
	"fmt"
	"math"
)

// This file is the decoding side of AppendJSON: a hand-written, single
// pass decoder for one event object as the daemon writes it, at a fraction
// of encoding/json's cost (docs/performance.md has the numbers: every
// subscriber's client decodes every event). It is a fast path only: it
// handles the canonical form — known keys spelled exactly, no nesting —
// and gives up on anything else (an unknown or case-folded key, a syntax
// error, a number that does not fit), and decodeEventStd then decodes the
// input with encoding/json. So the semantics are encoding/json's by
// construction; json_decode_test.go checks by fuzzing that whenever the
// fast path succeeds, it agrees with encoding/json.
//
// The rules of encoding/json that the fast path must follow when it
// succeeds:
//   - a repeated key overwrites the earlier value;
//   - null leaves a field as it was, except "ino" (a pointer there),
//     which it resets;
//   - a number must fit the field's Go type and have neither fraction
//     nor exponent;
//   - strings are unescaped, with invalid UTF-8 and unpaired surrogates
//     turned into U+FFFD;
//   - "time" goes to time.Time.UnmarshalJSON, which parses the raw
//     string literal (escapes are not decoded) as strict RFC 3339.

// decodeError is the error of a malformed or mismatched event.
type decodeError struct {
	off int
	msg string
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("event: decoding event: %s at offset %d", e.msg, e.off)
}

func errAt(off int, msg string) error { return &decodeError{off, msg} }

// The fields of the wire format.
const (
	fUnknown = iota
	fSeq
	fTime
	fType
	fPath
	fFrom
	fTarget
	fXattr
	fIsDir
	fLastLink
	fReplaced
	fExchange
	fOffline
	fIno
	fMode
	fSize
	fPid
	fUid
	fGid
	fComm
	fOrigin
	fCount
	fFromSeq
	fToSeq
	fEpoch
	fHost
)

// fieldOf maps a key (unescaped) to its field by exact name.
func fieldOf(key []byte) int {
	switch string(key) {
	case "seq":
		return fSeq
	case "time":
		return fTime
	case "type":
		return fType
	case "path":
		return fPath
	case "from":
		return fFrom
	case "target":
		return fTarget
	case "xattr":
		return fXattr
	case "is_dir":
		return fIsDir
	case "last_link":
		return fLastLink
	case "replaced":
		return fReplaced
	case "exchange":
		return fExchange
	case "offline":
		return fOffline
	case "ino":
		return fIno
	case "mode":
		return fMode
	case "size":
		return fSize
	case "pid":
		return fPid
	case "uid":
		return fUid
	case "gid":
		return fGid
	case "comm":
		return fComm
	case "origin":
		return fOrigin
	case "count":
		return fCount
	case "from_seq":
		return fFromSeq
	case "to_seq":
		return fToSeq
	case "epoch":
		return fEpoch
	case "host":
		return fHost
	}
	// Unknown, or a case-folded spelling: encoding/json decides.
	return fUnknown
}

// decodeEvent decodes one event object from data into e. On error e is
// left unchanged.
func decodeEvent(e *Event, data []byte) error {
	if decodeFast(e, data) == nil {
		return nil
	}
	return decodeEventStd(e, data)
}

// decodeFast is the fast path: it decodes the canonical form, and fails
// (leaving e unchanged) on anything it does not handle.
func decodeFast(e *Event, data []byte) error {
	var (
		w           Event
		typ, origin []byte
		hasIno      bool
		keyBuf      [32]byte
		err         error
		isNull      bool
		str         string
		u64         uint64
		flag        bool
		plain       bool
		start, vEnd int
		i           = skipWS(data, 0)
		n           = len(data)
	)
	if i >= n || data[i] != '{' {
		return errAt(i, "not a JSON object")
	}
	i = skipWS(data, i+1)
	empty := i < n && data[i] == '}'
	if empty {
		i++
	}
	for !empty {
		// Key.
		if i >= n || data[i] != '"' {
			return errAt(i, "expected a key")
		}
		start = i + 1
		if vEnd, plain, err = scanString(data, i); err != nil {
			return err
		}
		key := data[start : vEnd-1]
		if !plain {
			key = appendUnquoted(keyBuf[:0], key)
		}
		i = skipWS(data, vEnd)
		if i >= n || data[i] != ':' {
			return errAt(i, "expected ':'")
		}
		i = skipWS(data, i+1)
		if i >= n {
			return errAt(i, "unexpected end of input")
		}

		// Value.
		switch fieldOf(key) {
		case fUnknown:
			return errAt(i, "key for encoding/json")
		case fSeq:
			if u64, isNull, i, err = parseUint(data, i, math.MaxUint64); err == nil && !isNull {
				w.Seq = u64
			}
		case fFromSeq:
			if u64, isNull, i, err = parseUint(data, i, math.MaxUint64); err == nil && !isNull {
				w.FromSeq = u64
			}
		case fToSeq:
			if u64, isNull, i, err = parseUint(data, i, math.MaxUint64); err == nil && !isNull {
				w.ToSeq = u64
			}
		case fIno:
			if u64, isNull, i, err = parseUint(data, i, math.MaxUint64); err == nil {
				// Ino is a *uint64 in encoding/json's terms: null resets it.
				w.Ino, hasIno = u64, !isNull
			}
		case fMode:
			if u64, isNull, i, err = parseUint(data, i, math.MaxUint32); err == nil && !isNull {
				w.Mode = uint32(u64)
			}
		case fPid:
			if u64, isNull, i, err = parseUint(data, i, math.MaxUint32); err == nil && !isNull {
				w.Pid = uint32(u64)
			}
		case fUid:
			if u64, isNull, i, err = parseUint(data, i, math.MaxUint32); err == nil && !isNull {
				w.Uid = uint32(u64)
			}
		case fGid:
			if u64, isNull, i, err = parseUint(data, i, math.MaxUint32); err == nil && !isNull {
				w.Gid = uint32(u64)
			}
		case fCount:
			if u64, isNull, i, err = parseUint(data, i, math.MaxUint32); err == nil && !isNull {
				w.Count = uint32(u64)
			}
		case fSize:
			var v int64
			if v, isNull, i, err = parseInt(data, i); err == nil && !isNull {
				w.Size = v
			}
		case fIsDir:
			if flag, isNull, i, err = parseBool(data, i); err == nil && !isNull {
				w.IsDir = flag
			}
		case fLastLink:
			if flag, isNull, i, err = parseBool(data, i); err == nil && !isNull {
				w.LastLink = flag
			}
		case fReplaced:
			if flag, isNull, i, err = parseBool(data, i); err == nil && !isNull {
				w.Replaced = flag
			}
		case fExchange:
			if flag, isNull, i, err = parseBool(data, i); err == nil && !isNull {
				w.Exchange = flag
			}
		case fOffline:
			if flag, isNull, i, err = parseBool(data, i); err == nil && !isNull {
				w.Offline = flag
			}
		case fPath:
			if str, isNull, i, err = parseString(data, i); err == nil && !isNull {
				w.Path = str
			}
		case fFrom:
			if str, isNull, i, err = parseString(data, i); err == nil && !isNull {
				w.From = str
			}
		case fTarget:
			if str, isNull, i, err = parseString(data, i); err == nil && !isNull {
				w.Target = str
			}
		case fXattr:
			if str, isNull, i, err = parseString(data, i); err == nil && !isNull {
				w.Xattr = str
			}
		case fComm:
			if str, isNull, i, err = parseString(data, i); err == nil && !isNull {
				w.Comm = str
			}
		case fEpoch:
			if str, isNull, i, err = parseString(data, i); err == nil && !isNull {
				w.Epoch = str
			}
		case fHost:
			if str, isNull, i, err = parseString(data, i); err == nil && !isNull {
				w.Host = str
			}
		case fType:
			var b []byte
			if b, isNull, i, err = parseStringBytes(data, i); err == nil && !isNull {
				typ = b
			}
		case fOrigin:
			var b []byte
			if b, isNull, i, err = parseStringBytes(data, i); err == nil && !isNull {
				origin = b
			}
		case fTime:
			switch data[i] {
			case 'n':
				i, err = expectLit(data, i, "null")
			case '"':
				start = i
				if i, _, err = scanString(data, i); err == nil {
					// Exactly what encoding/json hands to time.Time.
					err = w.Time.UnmarshalJSON(data[start:i])
				}
			default:
				err = errAt(i, "time is not a string")
			}
		}
		if err != nil {
			return err
		}

		// Separator.
		i = skipWS(data, i)
		if i >= n {
			return errAt(i, "unexpected end of input")
		}
		if data[i] == ',' {
			i = skipWS(data, i+1)
			continue
		}
		if data[i] != '}' {
			return errAt(i, "expected ',' or '}'")
		}
		i++
		break
	}
	if i = skipWS(data, i); i != n {
		return errAt(i, "data after the event")
	}

	if len(typ) == 0 {
		return errAt(0, "event without a type")
	}
	w.Type = lookupType(typ)
	if w.Type == TypeNone {
		w.Unknown = string(typ)
	}
	if len(origin) != 0 {
		if w.Origin = lookupOrigin(origin); w.Origin == 0 {
			w.originName = string(origin)
		}
	}
	if hasIno {
		w.HasAttr = true
	} else {
		w.Ino = 0
	}
	*e = w
	return nil
}

func lookupType(b []byte) Type {
	for i, n := range typeNames {
		if n != "" && n == string(b) {
			return Type(i)
		}
	}
	return TypeNone
}

func lookupOrigin(b []byte) Origin {
	for i, n := range originNames {
		if n != "" && n == string(b) {
			return Origin(i)
		}
	}
	return 0
}
