package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/notifyfs/notifyfs/internal/daemon"
)

// minJournalSize is the smallest --journal-max-size taken: the journal
// drops whole segments, and less than this cannot hold a useful history
// (a single event is up to a few KiB).
const minJournalSize = 1 << 20

// checkMountValues refuses flag values that parse but make no sense,
// naming the flag, before anything is started: a negative interval or
// timeout, a zero poll interval, negative sizes, a journal too small to
// hold anything.
func checkMountValues(set *pflag.FlagSet, cfg *daemon.Config) error {
	for name, d := range map[string]time.Duration{
		"write-interval":        cfg.FS.WriteInterval,
		"entry-timeout":         cfg.FS.EntryTimeout,
		"attr-timeout":          cfg.FS.AttrTimeout,
		"negative-timeout":      cfg.FS.NegativeTimeout,
		"journal-sync-interval": cfg.Bus.Journal.SyncInterval,
		"journal-max-age":       cfg.Bus.Journal.MaxAge,
	} {
		if d < 0 {
			return usagef("mount: --%s must not be negative, not %v", name, d)
		}
	}
	if set.Changed("poll-interval") && cfg.Underneath.PollInterval <= 0 {
		return usagef("mount: --poll-interval must be positive, not %v", cfg.Underneath.PollInterval)
	}
	for name, n := range map[string]int{
		"ring-size":            cfg.Bus.RingSize,
		"queue-size":           cfg.Bus.QueueSize,
		"max-watches":          cfg.Underneath.MaxWatches,
		"max-handles-per-user": cfg.FS.MaxHandlesPerUser,
	} {
		if n < 0 {
			return usagef("mount: --%s must not be negative, not %d", name, n)
		}
	}
	if m := cfg.Bus.Journal.MaxBytes; m < 0 || (m > 0 && m < minJournalSize) {
		return usagef("mount: --journal-max-size must be at least 1MiB (0 = the default, 1GiB), not %d bytes", m)
	}
	return nil
}
