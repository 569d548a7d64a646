package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/notifyfs/notifyfs/cluster"
	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/mountutil"
	"github.com/notifyfs/notifyfs/subscribers/client"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

// socketFlag adds --socket to commands that talk to a running mount.
func socketFlag(set interface {
	StringVar(*string, string, string, string)
}, p *string) {
	set.StringVar(p, "socket", "", "talk to this socket instead of finding it from MOUNTPOINT")
}

// dial connects to the mount at mnt (or to socket).
func dial(ctx context.Context, mnt, socket string) (*client.Client, error) {
	if abs, err := absPath(mnt); err == nil {
		mnt = abs
	}
	if socket == "" {
		var err error
		if socket, err = mountutil.FindSocket(mnt); err != nil {
			return nil, daemonError(mnt, err)
		}
	}
	c, err := client.Dial(ctx, socket)
	return c, daemonError(mnt, err)
}

// parseSince reads --since: "now" or a cursor, SEQ or EPOCH:SEQ
// (exclusive: the last one seen).
func parseSince(s string) (*event.Cursor, error) {
	if s == "" || s == "now" {
		return nil, nil
	}
	c, err := event.ParseCursor(s)
	if err != nil {
		return nil, usagef("watch: --since wants a seq number, EPOCH:SEQ or now, not %q", s)
	}
	return &c, nil
}

func runWatch(args []string) error {
	set := newFlagSet("watch", "[flags] MOUNTPOINT")
	var (
		format, since, socket, name string
		types, paths, globs, excl   []string
		count                       int
		timeout, coalesce, batch    time.Duration
	)
	set.StringVar(&format, "format", "text", "text, json (one event object per line), a %-template ('%w%f %E' as inotifywait) or a Go template ('{{.Path}}'); see docs/operations.md")
	set.StringVar(&since, "since", "now", "events after SEQ (exclusive: pass the last seq you saw), EPOCH:SEQ, or now")
	set.StringSliceVar(&types, "type", nil, "only these event types (comma-separated; open,close only if named)")
	set.StringSliceVar(&paths, "path", nil, "only events at or beneath this path (relative to the mount; repeatable)")
	set.StringSliceVar(&globs, "glob", nil, "only events whose path matches this pattern (** = any depth; repeatable)")
	set.StringSliceVar(&excl, "exclude", nil, "drop events beneath this path or matching this pattern; a bare NAME (.git) matches that component anywhere (repeatable)")
	set.DurationVar(&coalesce, "coalesce", 0, "fold repeated identical events waiting together within this window into one with a count (e.g. 10ms)")
	set.DurationVar(&batch, "batch", 0, "let the daemon hold events up to this long to send them together: fewer wake-ups on both sides, for a consumer that does not need each event at once (e.g. 50ms)")
	set.IntVarP(&count, "count", "n", 0, "exit 0 after N events")
	set.DurationVar(&timeout, "timeout", 0, "exit 124 if not done within this time")
	set.StringVar(&name, "name", "watch", "name shown for this subscriber in status")
	socketFlag(set, &socket)
	var output watchOutput
	output.addFlags(set)
	var share cluster.Options
	share.AddWatchFlags(set)
	want := []string{"MOUNTPOINT"}
	if clusterAsked(args) {
		want = nil // the share's stream, from any machine
	}
	pos, err := parse(set, args, want...)
	if err != nil {
		return err
	}
	if output.settle < 0 || (output.settle > 0 && output.exec == "") {
		return usagef("watch: --settle wants a positive duration, and --exec")
	}
	if count < 0 {
		return usagef("watch: --count must not be negative")
	}
	if batch < 0 || batch > wire.MaxWindow {
		return usagef("watch: --batch must be between 0 and %v", wire.MaxWindow)
	}
	for _, t := range types {
		if _, err := event.ParseType(strings.TrimSpace(t)); err != nil {
			return usagef("watch: --type: unknown type %q (known: %s)", t, strings.Join(event.AllTypeNames(), ","))
		}
	}
	cursor, err := parseSince(since)
	if err != nil {
		return err
	}

	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	if share.Enabled() {
		if cursor != nil && cursor.Epoch != "" {
			return usagef("watch: --cluster: --since takes a stream sequence (a number) or now")
		}
		if batch > 0 {
			return usagef("watch: --batch is for a mount's socket; the share's stream comes from NATS")
		}
		f := event.Filter{Prefixes: paths, Globs: globs, Excludes: excl}
		if len(types) > 0 {
			if f.Types, err = event.ParseTypeList(strings.Join(types, ",")); err != nil {
				return usagef("watch: --type: %v", err)
			}
		}
		fmtr, err := output.formatter(format, where{})
		if err != nil {
			return err
		}
		return watchShare(ctx, share, cursor, f, fmtr, count, timeout)
	}
	at, err := locate(pos[0], socket)
	if err != nil {
		return err
	}
	fmtr, err := output.formatter(format, at)
	if err != nil {
		return err
	}
	if at.root != "" {
		// A directory inside the mount: its events only.
		paths = append(paths, at.root)
	}
	c, err := client.Dial(ctx, at.socket)
	if err != nil {
		return daemonError(at.mnt, err)
	}
	defer c.Close()
	reply, err := c.Subscribe(ctx, client.SubscribeRequest{
		Since: cursor, Types: types, Paths: paths, Globs: globs, Excludes: expandExcludes(excl), Name: name,
		Coalesce: coalesce, Batch: batch,
	})
	if err != nil {
		return err
	}
	fmtr.SetEpoch(reply.Epoch)

	if output.exec != "" {
		return output.runExec(ctx, c.Events(), at, count)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var line []byte
	seen := 0
	events := c.Events()
	for {
		select {
		case <-ctx.Done():
			out.Flush()
			return exitError{exitTimeout, fmt.Errorf("watch: timed out after %v with %d event(s)", timeout, seen)}
		case e, ok := <-events:
			if !ok {
				out.Flush()
				if count > 0 {
					return fmt.Errorf("watch: stream ended after %d of %d event(s): %v", seen, count, streamEnd(c.Err()))
				}
				return nil
			}
			if line, err = fmtr.Append(line[:0], &e); err != nil {
				return fmt.Errorf("watch: --format: %w", err)
			}
			out.Write(line)
			if len(events) == 0 {
				out.Flush() // nothing more right now: let the reader see it
			}
			if e.Type == event.Unmount && count == 0 {
				return nil
			}
			if !event.ControlTypes.Has(e.Type) {
				seen++
			}
			if count > 0 && seen >= count {
				return nil
			}
		}
	}
}

func streamEnd(err error) string {
	if err == nil || errors.Is(err, context.Canceled) {
		return "the mount went away"
	}
	return err.Error()
}
