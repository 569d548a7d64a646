package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/internal/relpath"
	"github.com/notifyfs/notifyfs/internal/settle"
	"github.com/notifyfs/notifyfs/internal/watchfmt"
	"github.com/notifyfs/notifyfs/mountutil"
)

// watchOutput holds watch's output and settle-and-run flags.
type watchOutput struct {
	csv, null, absolute bool
	settle              time.Duration
	exec                string
}

func (o *watchOutput) addFlags(set *pflag.FlagSet) {
	set.BoolVar(&o.csv, "csv", false, "comma-separated values: "+watchfmt.CSVHeader)
	set.BoolVarP(&o.null, "null", "0", false, "end each event with NUL, not newline; with the text format print the path alone (for xargs -0)")
	set.BoolVar(&o.absolute, "absolute", false, "print absolute paths (beneath the mount point), not paths relative to it")
	set.DurationVar(&o.settle, "settle", 0, "with --exec: how long the stream must be quiet before CMD runs (default 200ms)")
	set.StringVar(&o.exec, "exec", "", "run CMD (sh -c) once per quiet period; the changed paths are in $NOTIFYFS_CHANGED and on its stdin")
}

// where is what watch's path argument names: the mount, its socket, and
// the directory inside it that was named ("" = the mount's root).
type where struct {
	mnt, socket, root string
}

// locate finds the mount holding p (any path inside a mount will do);
// with --socket the path must be the mount point itself.
func locate(p, socket string) (where, error) {
	if socket != "" {
		abs, err := absPath(p)
		return where{mnt: abs, socket: socket}, err
	}
	mnt, sock, err := mountutil.FindMount(p)
	if err != nil {
		abs, _ := absPath(p)
		return where{}, daemonError(abs, err)
	}
	abs, _ := filepath.Abs(p)
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	root, _ := relpath.Rel(mnt, abs)
	return where{mnt: mnt, socket: sock, root: root}, nil
}

// expandExcludes makes an exclude that is a single name without glob
// characters (".git", "node_modules") match that name as a path
// component anywhere, as users of other watchers expect; anything else
// is passed on (a prefix from the mount root, or a glob).
func expandExcludes(excl []string) []string {
	var out []string
	for _, x := range excl {
		if x != "" && !strings.ContainsAny(x, "/*?[\\") {
			out = append(out, "**/"+x, "**/"+x+"/**")
			continue
		}
		out = append(out, x)
	}
	return out
}

// formatter makes watch's formatter.
func (o *watchOutput) formatter(format string, w where) (*watchfmt.Formatter, error) {
	if o.csv {
		if format != "text" {
			return nil, usagef("watch: --csv and --format %s together", format)
		}
		format = "csv"
	}
	f, err := watchfmt.New(watchfmt.Options{Format: format, Null: o.null, Mount: w.mnt, Absolute: o.absolute, Root: w.root})
	if err != nil {
		return nil, usagef("watch: %v", err)
	}
	return f, nil
}

// runExec is watch --exec: it runs the command once per quiet period
// until the stream ends, count runs are done, or ctx ends.
func (o *watchOutput) runExec(ctx context.Context, events <-chan event.Event, w where, count int) error {
	r := settle.Runner{Quiet: o.settle, Command: o.exec, Mount: w.mnt, Null: o.null, MaxRuns: count,
		Logf: func(format string, args ...any) { fmt.Fprintf(os.Stderr, "notifyfs: watch: "+format+"\n", args...) }}
	if r.Quiet <= 0 {
		r.Quiet = 200 * time.Millisecond
	}
	if o.absolute {
		r.Path = func(p string) string { return relpath.Join(strings.TrimSuffix(w.mnt, "/"), p) }
	}
	return r.Run(ctx, events)
}
