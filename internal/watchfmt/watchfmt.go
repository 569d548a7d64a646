package watchfmt

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/internal/relpath"
)

// Options chooses the output.
type Options struct {
	// Format is "text", "json", "csv", a %-template or a Go template.
	Format string
	// Null ends each event's output with NUL instead of a newline; with
	// the text format it prints the path alone (for xargs -0).
	Null bool
	// Mount is the mount's absolute path; with Absolute, paths are
	// written beneath it rather than relative to it.
	Mount    string
	Absolute bool
	// Root is the watched directory, relative to the mount ("" = the
	// mount's root): what %w names.
	Root string
	// Epoch is the stream's epoch, for %C; a reset event changes it.
	Epoch string
}

// SetEpoch sets the epoch %C writes (from the subscribe reply).
func (f *Formatter) SetEpoch(epoch string) { f.o.Epoch = epoch }

// Formatter writes events as Options say.
type Formatter struct {
	o    Options
	tmpl *template.Template
	buf  bytes.Buffer
	csv  *csv.Writer
}

// New checks the options and makes a Formatter.
func New(o Options) (*Formatter, error) {
	f := &Formatter{o: o}
	switch {
	case o.Format == "text" || o.Format == "json":
	case o.Format == "csv":
		f.csv = csv.NewWriter(&f.buf)
	case strings.Contains(o.Format, "{{"):
		t, err := template.New("format").Option("missingkey=error").Parse(o.Format)
		if err != nil {
			return nil, fmt.Errorf("--format: %w", err)
		}
		f.tmpl = t
	case strings.Contains(o.Format, "%"):
		if err := checkPercent(o.Format); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("--format must be text, json, a %%-template or a Go template, not %q", o.Format)
	}
	return f, nil
}

// path writes a mount-relative path as the options ask.
func (f *Formatter) path(p string) string {
	if !f.o.Absolute || f.o.Mount == "" {
		return p
	}
	if p == "" {
		return f.o.Mount
	}
	return relpath.Join(strings.TrimSuffix(f.o.Mount, "/"), p)
}

// Append appends e's output, terminator included, to b.
func (f *Formatter) Append(b []byte, e *event.Event) ([]byte, error) {
	if e.Type == event.Reset && e.Epoch != "" {
		f.o.Epoch = e.Epoch // the stream goes on in the reset's epoch
	}
	end := byte('\n')
	if f.o.Null {
		end = 0
	}
	if f.o.Absolute && (f.o.Format == "json" || f.o.Format == "text" || f.tmpl != nil) {
		c := *e
		c.Path = f.path(e.Path)
		if e.From != "" {
			c.From = f.path(e.From)
		}
		e = &c
	}
	switch {
	case f.tmpl != nil:
		f.buf.Reset()
		if err := f.tmpl.Execute(&f.buf, e); err != nil {
			return b, err
		}
		b = append(b, f.buf.Bytes()...)
	case f.csv != nil:
		f.buf.Reset()
		f.csv.Write(csvRecord(e, f.path))
		f.csv.Flush()
		b = append(b, bytes.TrimSuffix(f.buf.Bytes(), []byte("\n"))...)
	case f.o.Format == "json":
		b = e.AppendJSON(b)
	case f.o.Format == "text" && f.o.Null:
		b = append(b, e.Path...) // made absolute above
	case f.o.Format == "text":
		b = e.AppendText(b)
	default:
		b = f.appendPercent(b, e)
	}
	return append(b, end), nil
}

// CSVHeader names the columns of the csv format.
const CSVHeader = "seq,time,type,path,from,origin,pid,uid,comm,size"

func csvRecord(e *event.Event, path func(string) string) []string {
	from := ""
	if e.From != "" {
		from = path(e.From)
	}
	return []string{
		strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), typeName(e),
		path(e.Path), from, e.Origin.String(),
		strconv.FormatUint(uint64(e.Pid), 10), strconv.FormatUint(uint64(e.Uid), 10), e.Comm,
		strconv.FormatInt(e.Size, 10),
	}
}

func typeName(e *event.Event) string {
	if e.Unknown != "" {
		return e.Unknown
	}
	return e.Type.String()
}
