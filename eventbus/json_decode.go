package eventbus

import (
	"fmt"
	"math"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the decoding side of AppendJSON: a hand-written, single
// pass decoder for one event object. It accepts exactly what
// json.Unmarshal into the former wireEvent struct accepted and produces
// the same values (json_decode_test.go checks this against encoding/json
// by fuzzing), at a fraction of the cost: the only allocations are the
// strings it returns.
//
// The rules of encoding/json that it follows:
//   - the whole input must be valid JSON (one value, optional white
//     space around it), even inside values it skips;
//   - keys match field names exactly or, failing that, case-insensitively
//     under Unicode simple folding ("SEQ", "ſeq");
//   - a repeated key overwrites the earlier value;
//   - null leaves a field as it was, except "ino" (a pointer there),
//     which it resets;
//   - a number must fit the field's Go type and have neither fraction
//     nor exponent;
//   - strings are unescaped, with invalid UTF-8 and unpaired surrogates
//     turned into U+FFFD;
//   - "time" goes to time.Time.UnmarshalJSON, which parses the raw
//     string literal (escapes are not decoded) as strict RFC 3339;
//   - nesting deeper than 10000 is an error.

// maxNestingDepth is encoding/json's limit on nested arrays and objects.
const maxNestingDepth = 10000

// decodeError is the error of a malformed or mismatched event.
type decodeError struct {
	off int
	msg string
}

func (e *decodeError) Error() string {
	return fmt.Sprintf("eventbus: decoding event: %s at offset %d", e.msg, e.off)
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
)

// fieldOf maps a key (unescaped) to its field: by exact name, then, as
// encoding/json does, by folded name.
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
	}
	// The longest name has 9 letters, and no rune is longer than 4 bytes.
	if len(key) > 4*9 {
		return fUnknown
	}
	var buf [4 * 9]byte
	switch string(appendFoldedName(buf[:0], key)) {
	case "SEQ":
		return fSeq
	case "TIME":
		return fTime
	case "TYPE":
		return fType
	case "PATH":
		return fPath
	case "FROM":
		return fFrom
	case "TARGET":
		return fTarget
	case "XATTR":
		return fXattr
	case "IS_DIR":
		return fIsDir
	case "LAST_LINK":
		return fLastLink
	case "REPLACED":
		return fReplaced
	case "EXCHANGE":
		return fExchange
	case "INO":
		return fIno
	case "MODE":
		return fMode
	case "SIZE":
		return fSize
	case "PID":
		return fPid
	case "UID":
		return fUid
	case "GID":
		return fGid
	case "COMM":
		return fComm
	case "ORIGIN":
		return fOrigin
	case "COUNT":
		return fCount
	case "FROM_SEQ":
		return fFromSeq
	case "TO_SEQ":
		return fToSeq
	case "EPOCH":
		return fEpoch
	}
	return fUnknown
}

// appendFoldedName is encoding/json's: ASCII letters to upper case, other
// runes to the smallest rune of their simple fold orbit.
func appendFoldedName(out, in []byte) []byte {
	for i := 0; i < len(in); {
		if c := in[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(in[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// decodeEvent decodes one event object from data into e. On error e is
// left unchanged.
func decodeEvent(e *Event, data []byte) error {
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
			i, err = skipValue(data, i, 1)
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

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// expectLit checks that data[i:] starts with lit and returns the index
// after it.
func expectLit(data []byte, i int, lit string) (int, error) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return i, errAt(i, "invalid literal")
	}
	return i + len(lit), nil
}

// plainByte is true for the bytes that can stand for themselves in a JSON
// string and need no decoding: printable ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// scanString checks the string literal at data[i] (a '"') and returns the
// index just after it, and whether its contents are plain: without
// escapes or invalid UTF-8, so that they are the value as they stand.
func scanString(data []byte, i int) (end int, plain bool, err error) {
	plain = true
	i++
	for i < len(data) {
		c := data[i]
		if plainByte[c] {
			i++
			continue
		}
		switch {
		case c == '"':
			return i + 1, plain, nil
		case c == '\\':
			plain = false
			if i+1 >= len(data) {
				return i, false, errAt(i, "unterminated string")
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(data)-i < 6 {
					return i, false, errAt(i, "unterminated string")
				}
				for _, h := range data[i+2 : i+6] {
					if unhex(h) < 0 {
						return i, false, errAt(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return i, false, errAt(i, "invalid escape")
			}
		case c < 0x20:
			return i, false, errAt(i, "control character in string")
		default:
			if !plain {
				i++
				continue
			}
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				plain = false
			}
			i += size
		}
	}
	return i, false, errAt(i, "unterminated string")
}

func unhex(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// getu4 decodes \uXXXX from the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		h := unhex(c)
		if h < 0 {
			return -1
		}
		r = r*16 + h
	}
	return r
}

// appendUnquoted appends the decoded contents s of a string literal that
// scanString accepted, as encoding/json decodes them.
func appendUnquoted(b, s []byte) []byte {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case plainByte[c]:
			b = append(b, c)
			r++
		case c == '\\':
			switch s[r+1] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						r += 6
						b = utf8.AppendRune(b, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, rr)
				continue
			default: // '"', '\\', '/'
				b = append(b, s[r+1])
			}
			r += 2
		default:
			rr, size := utf8.DecodeRune(s[r:])
			if rr == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, unicode.ReplacementChar)
			} else {
				b = append(b, s[r:r+size]...)
			}
			r += size
		}
	}
	return b
}

// parseString decodes the string or null at data[i].
func parseString(data []byte, i int) (s string, isNull bool, end int, err error) {
	switch data[i] {
	case '"':
		end, plain, err := scanString(data, i)
		if err != nil {
			return "", false, end, err
		}
		raw := data[i+1 : end-1]
		if plain {
			return string(raw), false, end, nil
		}
		var buf [128]byte // usually enough: one allocation, the string's
		return string(appendUnquoted(buf[:0], raw)), false, end, nil
	case 'n':
		end, err = expectLit(data, i, "null")
		return "", true, end, err
	}
	return "", false, i, errAt(i, "expected a string")
}

// parseStringBytes is parseString for a value that is only looked at:
// plain contents are returned in place.
func parseStringBytes(data []byte, i int) (b []byte, isNull bool, end int, err error) {
	switch data[i] {
	case '"':
		end, plain, err := scanString(data, i)
		if err != nil {
			return nil, false, end, err
		}
		raw := data[i+1 : end-1]
		if plain {
			return raw, false, end, nil
		}
		return appendUnquoted(make([]byte, 0, len(raw)+2*utf8.UTFMax), raw), false, end, nil
	case 'n':
		end, err = expectLit(data, i, "null")
		return nil, true, end, err
	}
	return nil, false, i, errAt(i, "expected a string")
}

func parseBool(data []byte, i int) (v, isNull bool, end int, err error) {
	switch data[i] {
	case 't':
		end, err = expectLit(data, i, "true")
		return true, false, end, err
	case 'f':
		end, err = expectLit(data, i, "false")
		return false, false, end, err
	case 'n':
		end, err = expectLit(data, i, "null")
		return false, true, end, err
	}
	return false, false, i, errAt(i, "expected a boolean")
}

// parseUint decodes the unsigned integer (at most max) or null at data[i].
// As with strconv.ParseUint in encoding/json, a sign, fraction or exponent
// is an error.
func parseUint(data []byte, i int, max uint64) (v uint64, isNull bool, end int, err error) {
	c := data[i]
	if c == 'n' {
		end, err = expectLit(data, i, "null")
		return 0, true, end, err
	}
	if c < '0' || c > '9' {
		return 0, false, i, errAt(i, "expected an unsigned integer")
	}
	v, end, err = parseDigits(data, i, max)
	return v, false, end, err
}

// parseDigits reads the digits at data[i] (there is at least one) as a
// number no larger than max, with nothing of a JSON number after them.
func parseDigits(data []byte, i int, max uint64) (v uint64, end int, err error) {
	start := i
	if data[i] == '0' {
		i++
	} else {
		for ; i < len(data); i++ {
			d := data[i] - '0'
			if d > 9 {
				break
			}
			if v > (math.MaxUint64-uint64(d))/10 {
				return 0, i, errAt(start, "number out of range")
			}
			v = v*10 + uint64(d)
		}
	}
	if i < len(data) {
		switch data[i] {
		case '.', 'e', 'E':
			return 0, i, errAt(start, "expected an integer")
		}
	}
	if v > max {
		return 0, i, errAt(start, "number out of range")
	}
	return v, i, nil
}

// parseInt is parseUint for an int64.
func parseInt(data []byte, i int) (v int64, isNull bool, end int, err error) {
	c := data[i]
	if c == 'n' {
		end, err = expectLit(data, i, "null")
		return 0, true, end, err
	}
	neg := c == '-'
	if neg {
		i++
		if i >= len(data) {
			return 0, false, i, errAt(i, "expected an integer")
		}
	}
	if c = data[i]; c < '0' || c > '9' {
		return 0, false, i, errAt(i, "expected an integer")
	}
	if neg {
		u, end, err := parseDigits(data, i, 1<<63)
		return -int64(u), false, end, err
	}
	u, end, err := parseDigits(data, i, math.MaxInt64)
	return int64(u), false, end, err
}

// skipValue checks the JSON value at data[i], nested depth deep in the
// event, and returns the index after it.
func skipValue(data []byte, i, depth int) (int, error) {
	var err error
	switch c := data[i]; c {
	case '"':
		i, _, err = scanString(data, i)
		return i, err
	case 't':
		return expectLit(data, i, "true")
	case 'f':
		return expectLit(data, i, "false")
	case 'n':
		return expectLit(data, i, "null")
	case '{', '[':
		if depth++; depth > maxNestingDepth {
			return i, errAt(i, "exceeded max depth")
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		i = skipWS(data, i+1)
		if i < len(data) && data[i] == closing {
			return i + 1, nil
		}
		for {
			if i >= len(data) {
				return i, errAt(i, "unexpected end of input")
			}
			if c == '{' {
				if data[i] != '"' {
					return i, errAt(i, "expected a key")
				}
				if i, _, err = scanString(data, i); err != nil {
					return i, err
				}
				if i = skipWS(data, i); i >= len(data) || data[i] != ':' {
					return i, errAt(i, "expected ':'")
				}
				if i = skipWS(data, i+1); i >= len(data) {
					return i, errAt(i, "unexpected end of input")
				}
			}
			if i, err = skipValue(data, i, depth); err != nil {
				return i, err
			}
			if i = skipWS(data, i); i >= len(data) {
				return i, errAt(i, "unexpected end of input")
			}
			if data[i] == closing {
				return i + 1, nil
			}
			if data[i] != ',' {
				return i, errAt(i, "expected ',' or a closing bracket")
			}
			i = skipWS(data, i+1)
		}
	}
	return skipNumber(data, i)
}

// skipNumber checks the JSON number at data[i].
func skipNumber(data []byte, i int) (int, error) {
	start := i
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i >= len(data) || data[i] < '0' || data[i] > '9' {
		return i, errAt(start, "invalid value")
	}
	if data[i] == '0' {
		i++
	} else {
		i = skipDigits(data, i)
	}
	if i < len(data) && data[i] == '.' {
		i++
		if j := skipDigits(data, i); j == i {
			return i, errAt(start, "invalid number")
		} else {
			i = j
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if j := skipDigits(data, i); j == i {
			return i, errAt(start, "invalid number")
		} else {
			i = j
		}
	}
	return i, nil
}

func skipDigits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}
