package event

// The lexing half of the fast JSON decoder (json_decode.go): white space,
// literals, strings with encoding/json's unescaping, and integers checked
// against their field's range. Each function takes the input and an
// offset and returns the offset after what it read; none allocates but
// for the strings it returns.

import (
	"math"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

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
