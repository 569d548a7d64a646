// Package settle runs a command once per quiet period of an event
// stream, with the paths that changed (`notifyfs watch --settle D --exec
// CMD`, in the manner of watchman-make and entr): a burst of changes —
// a build, a checkout, an editor's save dance — runs the command once,
// after it is over, not once per event.
//
// # The command
//
// CMD runs with `sh -c`. The changed paths, each once, in the order
// first seen, are in NOTIFYFS_CHANGED (newline-separated) and on its
// standard input (newline- or, with Null, NUL-terminated).
// NOTIFYFS_EVERYTHING=1 says that events were lost (overflow, reset,
// rescan): treat everything as changed. NOTIFYFS_MOUNT is the mount.
// Events that arrive while CMD runs are kept for its next run, which
// follows the next quiet period.
package settle

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/notifyfs/notifyfs/event"
)

// Runner runs Command after each quiet period.
type Runner struct {
	// Quiet is how long the stream must be silent before Command runs.
	Quiet time.Duration
	// Command is run with sh -c.
	Command string
	// Mount is the mount's path, given to Command as NOTIFYFS_MOUNT.
	Mount string
	// Null terminates the paths on Command's standard input with NUL.
	Null bool
	// Path turns an event path into what Command is given (made
	// absolute, say); nil = as is.
	Path func(string) string
	// MaxRuns ends Run after that many runs of Command; 0 = no limit.
	MaxRuns int
	// Stdout and Stderr receive Command's output; default os.Stdout and
	// os.Stderr.
	Stdout, Stderr io.Writer
	// Logf reports a run that failed; Run goes on after it.
	Logf func(format string, args ...any)
}

// batch is what changed in one quiet period.
type batch struct {
	paths      []string
	seen       map[string]bool
	everything bool
}

func (b *batch) add(p string) {
	if !b.seen[p] {
		b.seen[p] = true
		b.paths = append(b.paths, p)
	}
}

func (b *batch) empty() bool { return len(b.paths) == 0 && !b.everything }

// Run consumes events until ctx ends, the stream ends (a last pending
// batch is run first), or MaxRuns is reached.
func (r *Runner) Run(ctx context.Context, events <-chan event.Event) error {
	pathOf := r.Path
	if pathOf == nil {
		pathOf = func(p string) string { return p }
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	b := &batch{seen: map[string]bool{}}
	runs := 0
	fire := func() error {
		err := r.exec(ctx, b)
		b = &batch{seen: map[string]bool{}}
		runs++
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok := <-events:
			if !ok || e.Type == event.Unmount {
				if !b.empty() {
					return fire()
				}
				return nil
			}
			switch e.Type {
			case event.Overflow, event.Reset, event.Rescan:
				b.everything = true
			default:
				b.add(pathOf(e.Path))
				if e.From != "" {
					b.add(pathOf(e.From))
				}
			}
			timer.Reset(r.Quiet)
		case <-timer.C:
			if err := fire(); err != nil {
				return err
			}
			if r.MaxRuns > 0 && runs >= r.MaxRuns {
				return nil
			}
		}
	}
}

// exec runs Command for one batch. A failing command is reported, not
// fatal: the next change may well fix what it tripped on.
func (r *Runner) exec(ctx context.Context, b *batch) error {
	sep := "\n"
	if r.Null {
		sep = "\x00"
	}
	input := ""
	if len(b.paths) > 0 {
		input = strings.Join(b.paths, sep) + sep
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", r.Command)
	cmd.Stdin = strings.NewReader(input)
	cmd.Stdout, cmd.Stderr = r.Stdout, r.Stderr
	if cmd.Stdout == nil {
		cmd.Stdout = os.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	everything := "0"
	if b.everything {
		everything = "1"
	}
	cmd.Env = append(os.Environ(), "NOTIFYFS_CHANGED="+strings.Join(b.paths, "\n"),
		"NOTIFYFS_EVERYTHING="+everything, "NOTIFYFS_MOUNT="+r.Mount)
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, ok := err.(*exec.ExitError); !ok {
			return fmt.Errorf("--exec: %w", err)
		}
		if r.Logf != nil {
			r.Logf("--exec: %s: %v", r.Command, err)
		}
	}
	return nil
}
