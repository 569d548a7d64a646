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
	"github.com/notifyfs/notifyfs/internal/watchfmt"
)

// clusterAsked reports whether watch's arguments name a cluster, before
// they are parsed: the positional arguments depend on it.
func clusterAsked(args []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "--cluster" || strings.HasPrefix(a, "--cluster=") {
			return true
		}
	}
	return false
}

// errEnough ends a share's stream once --count events were written.
var errEnough = errors.New("enough")

// watchShare is `notifyfs watch --cluster URL --share NAME`: the share's
// stream read directly, each event's seq its stream sequence (what
// --since takes to resume).
func watchShare(ctx context.Context, o cluster.Options, cursor *event.Cursor, f event.Filter, fmtr *watchfmt.Formatter, count int, timeout time.Duration) error {
	var since *uint64
	if cursor != nil {
		since = &cursor.Seq
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var line []byte
	seen := 0
	err := cluster.Follow(ctx, o, since, f, func(e *event.Event) error {
		var err error
		if line, err = fmtr.Append(line[:0], e); err != nil {
			return err
		}
		out.Write(line)
		out.Flush()
		if !event.ControlTypes.Has(e.Type) {
			seen++
		}
		if count > 0 && seen >= count {
			return errEnough
		}
		return nil
	})
	switch {
	case errors.Is(err, errEnough):
		return nil
	case errors.Is(err, context.DeadlineExceeded) && timeout > 0:
		return exitError{exitTimeout, fmt.Errorf("watch: timed out after %v with %d event(s)", timeout, seen)}
	}
	return err
}
