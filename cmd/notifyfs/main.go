package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/notifyfs/notifyfs/mountutil"
)

// Exit codes, part of the command-line contract.
const (
	exitOK      = 0
	exitFailure = 1 // the operation failed
	exitUsage   = 2 // bad flags or arguments
	exitTimeout = 124
)

// usageError marks errors that are the caller's to fix (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

type command struct {
	name, args, summary string
	run                 func(args []string) error
}

// commands is set in init: completion and man describe the list they
// are part of.
var commands []command

func init() {
	commands = []command{
		{"mount", "[flags] SOURCE MOUNTPOINT", "mirror SOURCE at MOUNTPOINT and serve its events", runMount},
		{"watch", "[flags] PATH", "stream events of a mount (PATH: the mount or any directory in it)", runWatch},
		{"sync", "MOUNTPOINT", "wait until every completed operation has its event; print the latest seq", runSync},
		{"status", "[--format json|text] MOUNTPOINT", "show the state of a mount's event stream (JSON)", runStatus},
		{"umount", "[flags] MOUNTPOINT", "unmount cleanly, also a stale mount", runUmount},
		{"fsmonitor", "2 TOKEN", "git's fsmonitor hook (git config core.fsmonitor \"notifyfs fsmonitor\")", runFsmonitor},
		{"journals", "[list|prune] [flags]", "list or prune the journals kept under " + mountutil.StateDir(), runJournals},
		{"version", "[MOUNTPOINT]", "print versions: notifyfs, Go, go-fuse, kernel and its FUSE protocol", runVersion},
		{"completion", "bash|zsh|fish", "print a shell completion script", runCompletion},
		{"man", "DIR", "write man pages, generated from the flag definitions, to DIR", runMan},
	}
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: notifyfs COMMAND [flags] ARGS\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-10s %-33s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintf(os.Stderr, "  %-10s %-33s %s\n", "", "SOURCE MOUNTPOINT -o OPTIONS", "mount as mount(8) and fstab call it (mount -t fuse.notifyfs)")
	fmt.Fprintf(os.Stderr, "\nnotifyfs help COMMAND (or COMMAND --help) shows a command's flags.\n")
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 2 && args[0] == "help" {
		return run([]string{args[1], "--help"})
	}
	if len(args) >= 1 && args[0] == "--version" {
		return run(append([]string{"version"}, args[1:]...))
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return report(c.run(args[1:]))
		}
	}
	if len(args) >= 2 && !strings.HasPrefix(args[0], "-") && (strings.ContainsRune(args[0], '/') || isDir(args[0])) {
		// `notifyfs SOURCE MOUNTPOINT -o OPTS`: mount(8) and fstab.
		return report(runFstab(args))
	}
	fmt.Fprintf(os.Stderr, "notifyfs: unknown command %q\n", args[0])
	usage()
	return exitUsage
}

// report turns a command's error into a message and an exit code.
func report(err error) int {
	if err == nil || errors.Is(err, pflag.ErrHelp) {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "notifyfs: %v\n", err)
	var ue usageError
	var ee exitError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ee):
		return ee.code
	}
	return exitFailure
}

// newFlagSet makes a flag set whose errors are returned, not printed
// and exited on, so they map to exit code 2 with one message.
func newFlagSet(name, args string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	if describing {
		described = fs
		fs.Usage = func() {}
		return fs
	}
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: notifyfs %s %s\n", name, args)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and checks the number of positional arguments.
func parse(fs *pflag.FlagSet, args []string, want ...string) ([]string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil, err
		}
		return nil, usagef("%s: %v", fs.Name(), err)
	}
	if fs.NArg() != len(want) {
		return nil, usagef("%s: want %d argument(s) (%v), got %d", fs.Name(), len(want), want, fs.NArg())
	}
	return fs.Args(), nil
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
