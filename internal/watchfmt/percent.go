package watchfmt

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/internal/relpath"
)

// percentVerbs are the letters a %-template knows.
const percentVerbs = "wfpFeETsocigunCj0%"

func checkPercent(format string) error {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		if i+1 == len(format) || !strings.ContainsRune(percentVerbs, rune(format[i+1])) {
			return fmt.Errorf("--format: unknown directive at %q (known: %%w %%f %%p %%F %%e %%E %%T %%s %%o %%c %%i %%u %%g %%n %%C %%j %%0 %%%%)", format[i:])
		}
		i++
	}
	return nil
}

// appendPercent expands the %-template for e.
func (f *Formatter) appendPercent(b []byte, e *event.Event) []byte {
	format := f.o.Format
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b = append(b, c)
			continue
		}
		i++
		switch format[i] {
		case 'w':
			if w := f.path(f.o.Root); w != "" {
				b = append(b, strings.TrimSuffix(w, "/")+"/"...)
			}
		case 'f':
			rel := e.Path
			if f.o.Root != "" {
				if r, ok := relpath.Rel(f.o.Root, e.Path); ok {
					rel = r
				}
			}
			b = append(b, rel...)
		case 'p':
			b = append(b, f.path(e.Path)...)
		case 'F':
			if e.From != "" {
				b = append(b, f.path(e.From)...)
			}
		case 'e':
			b = append(b, typeName(e)...)
		case 'E':
			b = append(b, InotifyName(e)...)
		case 'T':
			b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
		case 's':
			b = strconv.AppendUint(b, e.Seq, 10)
		case 'o':
			b = append(b, e.Origin.String()...)
		case 'c':
			b = append(b, e.Comm...)
		case 'i':
			b = strconv.AppendUint(b, uint64(e.Pid), 10)
		case 'u':
			b = strconv.AppendUint(b, uint64(e.Uid), 10)
		case 'g':
			b = strconv.AppendUint(b, uint64(e.Gid), 10)
		case 'n':
			b = strconv.AppendInt(b, e.Size, 10)
		case 'C':
			b = f.appendCursor(b, e)
		case 'j':
			b = e.AppendJSON(b)
		case '0':
			b = append(b, 0)
		default: // '%'
			b = append(b, '%')
		}
	}
	return b
}

// InotifyName names e's type as inotifywait prints the inotify mask of
// the same change, so that scripts written for it read notifyfs output
// unchanged. A rename is inotify's MOVED_TO (its MOVED_FROM half is the
// event's From).
func InotifyName(e *event.Event) string {
	var n string
	switch e.Type {
	case event.Create, event.Mkdir, event.Mknod, event.Symlink, event.Link:
		n = "CREATE"
	case event.Remove, event.Rmdir:
		n = "DELETE"
	case event.Rename:
		n = "MOVED_TO"
	case event.Write, event.Truncate:
		n = "MODIFY"
	case event.Chmod, event.Chown, event.Utimes, event.Setxattr, event.Removexattr:
		n = "ATTRIB"
	case event.CloseWrite:
		n = "CLOSE_WRITE,CLOSE"
	case event.Open:
		n = "OPEN"
	case event.Close:
		n = "CLOSE_NOWRITE,CLOSE"
	case event.Overflow, event.Rescan, event.Reset:
		n = "Q_OVERFLOW"
	case event.Unmount:
		n = "UNMOUNT"
	default:
		n = strings.ToUpper(typeName(e))
	}
	if e.IsDir && n != "Q_OVERFLOW" && n != "UNMOUNT" {
		n += ",ISDIR"
	}
	return n
}

// appendCursor appends the cursor to resume from once e is handled,
// EPOCH:SEQ: after a reset, the reset's epoch and to_seq; after an
// overflow, its to_seq; else e's seq.
func (f *Formatter) appendCursor(b []byte, e *event.Event) []byte {
	seq := e.Seq
	switch e.Type {
	case event.Reset, event.Overflow:
		seq = e.ToSeq
	}
	if f.o.Epoch != "" {
		b = append(append(b, f.o.Epoch...), ':')
	}
	return strconv.AppendUint(b, seq, 10)
}
