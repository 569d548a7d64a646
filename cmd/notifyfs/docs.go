package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"

	"github.com/notifyfs/notifyfs/internal/clidoc"
)

// describing makes newFlagSet record each flag set it makes, silently:
// running a command with --help then yields its flags without doing
// anything (parse returns ErrHelp before any work).
var (
	describing bool
	described  *pflag.FlagSet
)

// describe returns every command with its flag set, from the
// definitions the commands themselves parse with.
func describe() []clidoc.Command {
	describing = true
	defer func() { describing = false }()
	var out []clidoc.Command
	for _, c := range commands {
		described = nil
		c.run([]string{"--help"})
		out = append(out, clidoc.Command{Name: c.name, Args: c.args, Summary: c.summary, Flags: described})
	}
	return out
}

func runCompletion(args []string) error {
	set := newFlagSet("completion", "bash|zsh|fish")
	pos, err := parse(set, args, "SHELL")
	if err != nil {
		return err
	}
	cmds := describe()
	switch pos[0] {
	case "bash":
		fmt.Print(clidoc.Bash("notifyfs", cmds))
	case "zsh":
		fmt.Print(clidoc.Zsh("notifyfs", cmds))
	case "fish":
		fmt.Print(clidoc.Fish("notifyfs", cmds))
	default:
		return usagef("completion: want bash, zsh or fish, not %q", pos[0])
	}
	return nil
}

func runMan(args []string) error {
	set := newFlagSet("man", "DIR")
	pos, err := parse(set, args, "DIR")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(pos[0], 0o755); err != nil {
		return err
	}
	// SOURCE_DATE_EPOCH keeps generated pages reproducible.
	date := time.Now().UTC().Format("2006-01-02")
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		var sec int64
		if _, err := fmt.Sscan(s, &sec); err == nil {
			date = time.Unix(sec, 0).UTC().Format("2006-01-02")
		}
	}
	pages := clidoc.ManPages("notifyfs", "change events for any directory tree, through a FUSE mirror",
		"docs/operations.md, docs/protocol.md and docs/events.md in the notifyfs repository", date, describe())
	for _, p := range pages {
		if err := os.WriteFile(filepath.Join(pos[0], p.Name), []byte(p.Text), 0o644); err != nil {
			return err
		}
	}
	return nil
}
