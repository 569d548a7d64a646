package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/notifyfs/notifyfs/internal/gitfsmonitor"
	"github.com/notifyfs/notifyfs/internal/relpath"
	"github.com/notifyfs/notifyfs/mountutil"
)

// runFsmonitor is git's fsmonitor hook: git runs it in the worktree as
// `notifyfs fsmonitor 2 TOKEN` (core.fsmonitor = "notifyfs fsmonitor",
// core.fsmonitorHookVersion = 2). A failure makes git fall back to
// checking every file, which is always right, only slow.
func runFsmonitor(args []string) error {
	set := newFlagSet("fsmonitor", "2 TOKEN")
	var socket string
	socketFlag(set, &socket)
	pos, err := parse(set, args, "VERSION", "TOKEN")
	if err != nil {
		return err
	}
	if pos[0] != "2" {
		// git tries version 1 when 2 fails; refusing it makes git check
		// everything itself rather than trust an answer it misreads.
		return usagef("fsmonitor: only hook protocol version 2 is spoken, not %q (git config core.fsmonitorHookVersion 2)", pos[0])
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(wd); err == nil {
		wd = real
	}
	mnt, found, err := mountutil.FindMount(wd)
	if err != nil {
		return err
	}
	if socket == "" {
		socket = found
	}
	worktree, _ := relpath.Rel(mnt, wd)
	ctx, cancel := context.WithTimeout(context.Background(), gitfsmonitor.DefaultTimeout)
	defer cancel()
	ans, err := gitfsmonitor.Query(ctx, socket, worktree, pos[1])
	if err != nil {
		return daemonError(mnt, err)
	}
	_, err = ans.WriteTo(os.Stdout)
	return err
}
