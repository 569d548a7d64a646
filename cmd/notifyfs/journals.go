package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/notifyfs/notifyfs/internal/journals"
	"github.com/notifyfs/notifyfs/mountutil"
)

func runJournals(args []string) error {
	set := newFlagSet("journals", "[list|prune] [flags]")
	dir := mountutil.StateDir()
	var olderThan time.Duration
	var dryRun bool
	set.StringVar(&dir, "dir", dir, "the state directory holding the journals")
	set.DurationVar(&olderThan, "older-than", 30*24*time.Hour, "prune: only journals last written longer ago than this (0 = every one not in use)")
	set.BoolVarP(&dryRun, "dry-run", "n", false, "prune: say what would be removed, remove nothing")
	if err := set.Parse(args); err != nil {
		_, err := parse(set, args)
		return err
	}
	action := "list"
	if set.NArg() > 0 {
		action = set.Arg(0)
	}
	if set.NArg() > 1 || (action != "list" && action != "prune") {
		return usagef("journals: want list or prune")
	}
	if olderThan < 0 {
		return usagef("journals: --older-than must not be negative")
	}
	var list []journals.Journal
	var err error
	if action == "list" {
		list, err = journals.List(dir)
	} else {
		list, err = journals.Prune(dir, olderThan, dryRun)
	}
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	verb := map[string]string{"list": "", "prune": "removed "}[action]
	if dryRun && action == "prune" {
		verb = "would remove "
	}
	fmt.Fprintln(w, "JOURNAL\tBYTES\tSEGMENTS\tLAST WRITE\tIN USE\tSOURCE -> MOUNTPOINT")
	for _, j := range list {
		origin := "(not recorded)"
		if j.Mount != "" {
			origin = j.Source + " -> " + j.Mount
		}
		fmt.Fprintf(w, "%s%s\t%d\t%d\t%s\t%v\t%s\n", verb, j.Dir, j.Bytes, j.Segments, j.LastWrite.Format(time.DateTime), j.InUse, origin)
	}
	return w.Flush()
}
