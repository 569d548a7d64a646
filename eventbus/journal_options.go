package eventbus

// The journal's options and durability policy.

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// SyncPolicy says when journal records reach the disk.
type SyncPolicy int

const (
	// SyncInterval writes and fsyncs the journal every SyncInterval: a
	// crash of the machine loses at most the last interval, a crash of
	// the daemon (kill -9) nothing already written to the kernel.
	SyncInterval SyncPolicy = iota
	// SyncAlways makes Publish return only once its event is on disk;
	// concurrent publishers share fsyncs (group commit).
	SyncAlways
	// SyncNever leaves writing back to the kernel; records are handed
	// to it every SyncInterval but never fsynced.
	SyncNever
)

var syncNames = []string{SyncInterval: "interval", SyncAlways: "always", SyncNever: "never"}

func (p SyncPolicy) String() string {
	if int(p) < len(syncNames) {
		return syncNames[p]
	}
	return "sync(" + strconv.Itoa(int(p)) + ")"
}

// ParseSyncPolicy is the inverse of SyncPolicy.String.
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	for i, n := range syncNames {
		if n == s {
			return SyncPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("%w: sync policy %q (want always, interval or never)", ErrUnknownName, s)
}

// JournalOptions configures the on-disk journal. Zero values select the
// documented defaults.
type JournalOptions struct {
	// Dir holds the journal; empty = no journal (memory only).
	Dir string
	// Sync is the durability policy; SyncInterval by default.
	Sync SyncPolicy
	// SyncInterval is how often records are written and fsynced
	// (SyncInterval, SyncNever). Default 100ms.
	SyncInterval time.Duration
	// MaxBytes bounds the journal's size; the oldest segments are deleted
	// whole beyond it. Default 1 GiB.
	MaxBytes int64
	// MaxAge deletes segments whose newest record is older. 0 = no limit.
	MaxAge time.Duration
	// SegmentBytes is the size at which a new segment file is started.
	// Default 64 MiB.
	SegmentBytes int64
	// Logf reports what the journal repaired or skipped (a torn tail, a
	// corrupt segment). Default: discard.
	Logf func(format string, args ...any)
	// OnSync, if set, is told how long each fsync of a segment took (the
	// daemon's metrics). It runs on the syncer goroutine: it must not
	// block.
	OnSync func(time.Duration)
}

func (o *JournalOptions) setDefaults() {
	if o.SyncInterval <= 0 {
		o.SyncInterval = 100 * time.Millisecond
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.SegmentBytes > o.MaxBytes/2 {
		o.SegmentBytes = max(o.MaxBytes/2, 64<<10)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// ErrJournal is wrapped by errors about the journal's files.
var ErrJournal = errors.New("eventbus: journal")
