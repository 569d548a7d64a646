// Package watchfmt writes events the way `notifyfs watch` prints them:
// the text and JSON forms of package event, CSV, printf-style templates
// in the manner of inotifywait's --format, Go templates, NUL-separated
// paths for xargs -0, and paths made absolute.
//
// # Templates
//
// A format holding "{{" is a Go text/template executed on the event
// (fields as in event.Event: {{.Path}}, {{.Type}}, {{.Seq}}, ...). A
// format holding "%" is a printf-style template:
//
//	%w  the watched directory, with a trailing "/" ("" for the mount root
//	    unless --absolute)
//	%f  the path relative to %w, so %w%f is the whole path
//	%p  the whole path (as %w%f)
//	%F  the old path of a rename or link ("" otherwise)
//	%e  the notifyfs event type (create, write, rename, ...)
//	%E  the type as inotifywait names it (CREATE, MODIFY, MOVED_TO,
//	    CLOSE_WRITE,CLOSE, ATTRIB, DELETE,ISDIR, ...)
//	%T  the time, RFC 3339 with nanoseconds, UTC
//	%s  seq   %o origin   %c comm   %i pid   %u uid   %g gid   %n size
//	%C  the cursor to resume from once this event is handled, EPOCH:SEQ
//	    (after a reset: its new epoch and to_seq; after an overflow: its
//	    to_seq), for --since next time
//	%j  the event as JSON (as --format json)
//	%0  a NUL byte   %%  a percent sign
//
// Each event's output ends with a newline, or with a NUL under -0.
package watchfmt
