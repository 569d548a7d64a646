package eventbus

import "strconv"

// AppendText appends a one-line human-readable form of the event:
//
//	SEQ TIME TYPE PATH [<- FROM] [-> TARGET] [xattr=NAME] [flags] pid=P uid=U comm=C origin
func (e *Event) AppendText(b []byte) []byte {
	b = strconv.AppendUint(b, e.Seq, 10)
	b = append(b, ' ')
	b = e.Time.UTC().AppendFormat(b, "15:04:05.000000")
	b = append(b, ' ')
	b = append(b, e.Type.String()...)
	switch e.Type {
	case Overflow:
		b = append(b, " lost "...)
		b = strconv.AppendUint(b, e.FromSeq, 10)
		b = append(b, ".."...)
		b = strconv.AppendUint(b, e.ToSeq, 10)
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
		b = append(b, e.Xattr...)
	}
	for _, f := range []struct {
		on   bool
		name string
	}{{e.IsDir, " dir"}, {e.LastLink, " last_link"}, {e.Replaced, " replaced"}, {e.Exchange, " exchange"}} {
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
	if e.Origin != 0 {
		b = append(b, " pid="...)
		b = strconv.AppendUint(b, uint64(e.Pid), 10)
		b = append(b, " uid="...)
		b = strconv.AppendUint(b, uint64(e.Uid), 10)
		if e.Comm != "" {
			b = append(b, " comm="...)
			b = append(b, e.Comm...)
		}
		b = append(b, ' ')
		b = append(b, e.Origin.String()...)
	}
	return b
}

// appendTextPath shows the root as "." and quotes names that would
// break the line apart.
func appendTextPath(b []byte, p string) []byte {
	if p == "" {
		return append(b, '.')
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c <= ' ' || c == 0x7f || c == '"' {
			return strconv.AppendQuote(b, p)
		}
	}
	return append(b, p...)
}
