package event

import (
	"strconv"
	"unicode/utf8"
)

// AppendText appends a one-line human-readable form of the event:
//
//	SEQ TIME TYPE PATH [<- FROM] [-> TARGET] [xattr=NAME] [flags] pid=P uid=U comm=C origin [host=H]
func (e *Event) AppendText(b []byte) []byte {
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, ' ')
	b = e.Time.UTC().AppendFormat(b, "15:04:05.000000")
	b = append(b, ' ')
	if e.Type == TypeNone && e.Unknown != "" {
		b = appendTextWord(b, e.Unknown)
	} else {
		b = append(b, e.Type.String()...)
	}
	switch e.Type {
	case Overflow:
		b = append(b, " lost "...)
		b = strconv.AppendUint(b, e.FromSeq, 10)
		b = append(b, ".."...)
		b = strconv.AppendUint(b, e.ToSeq, 10)
		return b
	case DurabilityLost, DurabilityRestored:
		b = append(b, " from "...)
		b = strconv.AppendUint(b, e.FromSeq, 10)
		return b
	case Reset:
		b = append(b, " epoch="...)
		b = append(b, e.Epoch...)
		b = append(b, " seq="...)
		b = strconv.AppendUint(b, e.ToSeq, 10)
		return b
	}
	b = append(b, ' ')
	b = appendTextPath(b, e.Path)
	if e.From != "" {
		b = append(b, " <- "...)
		b = appendTextPath(b, e.From)
	}
	if e.Target != "" {
		b = append(b, " -> "...)
		b = strconv.AppendQuote(b, e.Target)
	}
	if e.Xattr != "" {
		b = append(b, " xattr="...)
		b = appendTextWord(b, e.Xattr)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{e.IsDir, " dir"}, {e.LastLink, " last_link"}, {e.Replaced, " replaced"}, {e.Exchange, " exchange"}, {e.Offline, " offline"}} {
		if f.on {
			b = append(b, f.name...)
		}
	}
	if e.HasAttr && (e.Type == Write || e.Type == Truncate || e.Type == CloseWrite) {
		b = append(b, " size="...)
		b = strconv.AppendInt(b, e.Size, 10)
	}
	if e.Count > 1 {
		b = append(b, " x"...)
		b = strconv.AppendUint(b, uint64(e.Count), 10)
	}
	if e.Origin != 0 || e.originName != "" {
		if e.ActorKnown() {
			b = append(b, " pid="...)
			b = strconv.AppendUint(b, uint64(e.Pid), 10)
			b = append(b, " uid="...)
			b = strconv.AppendUint(b, uint64(e.Uid), 10)
		}
		if e.Comm != "" {
			b = append(b, " comm="...)
			b = appendTextWord(b, e.Comm)
		}
		b = append(b, ' ')
		if e.Origin != 0 {
			b = append(b, e.Origin.String()...)
		} else {
			b = appendTextWord(b, e.originName)
		}
	}
	if e.Host != "" {
		b = append(b, " host="...)
		b = appendTextWord(b, e.Host)
	}
	return b
}

// appendTextPath shows the root as "." and quotes names that would
// break the line apart.
func appendTextPath(b []byte, p string) []byte {
	if p == "" {
		return append(b, '.')
	}
	return appendTextWord(b, p)
}

// appendTextWord appends s, quoted if it holds a space, a control
// character, a quote or invalid UTF-8 (anything that could break the line
// apart or the terminal).
func appendTextWord(b []byte, s string) []byte {
	ascii := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f || c == '"' {
			return strconv.AppendQuote(b, s)
		}
		ascii = ascii && c < utf8.RuneSelf
	}
	if !ascii && !utf8.ValidString(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}
