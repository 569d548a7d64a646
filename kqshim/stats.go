package kqshim

import (
	"bytes"
	"encoding/json"
)

// Stats describes the watcher for status output (the daemon's status
// object shows it as "underneath"). The common fields come first; the
// backend's own figures (one of FanotifyStats, InotifyStats, KqueueStats,
// PollStats) are written beside them in the same JSON object.
type Stats struct {
	Backend       string `json:"backend"`
	Events        uint64 `json:"events"`         // published
	EchoesDropped uint64 `json:"echoes_dropped"` // the mount's own changes, recognised and dropped
	Rescans       uint64 `json:"rescans"`
	// EchoStanding is how many of the mount's announcements are waiting
	// for their kernel note.
	EchoStanding int64 `json:"echo_standing"`
	// RemoteStanding is how many other hosts' changes (clustered
	// mounts) are waiting to absorb their notes here.
	RemoteStanding  int64 `json:"remote_standing"`
	AttrsRemembered int   `json:"attrs_remembered"`
	// Detail is the backend's own figures.
	Detail any `json:"-"`
}

// FanotifyStats are the fanotify backend's figures.
type FanotifyStats struct {
	Mark               string `json:"mark"` // what is marked: "filesystem"
	Overflows          int64  `json:"overflows"`
	NotesOutsideSource int64  `json:"notes_outside_source"`
	// NotesUnplaceable are notes whose directory could not be placed;
	// each became a rescan of the smallest ancestor known.
	NotesUnplaceable int64 `json:"notes_unplaceable"`
}

// InotifyStats are the inotify backend's figures.
type InotifyStats struct {
	Watches       int64 `json:"watches"`
	UnwatchedDirs int64 `json:"unwatched_dirs"` // each polled instead
	Overflows     int64 `json:"overflows"`
}

// KqueueStats are the kqueue backend's figures.
type KqueueStats struct {
	Watches      int64 `json:"watches"` // descriptors held: directories and files
	WatchedDirs  int64 `json:"watched_dirs"`
	WatchedFiles int64 `json:"watched_files"`
	MaxWatches   int   `json:"max_watches"`
	PolledDirs   int64 `json:"polled_dirs"` // beyond the budget, scanned instead
	// PollInterval is set while some directories are polled.
	PollInterval string `json:"poll_interval,omitempty"`
}

// PollStats are the poll backend's figures.
type PollStats struct {
	PollInterval string `json:"poll_interval"`
	Objects      int64  `json:"objects"` // in the last scan
}

// MarshalJSON writes the common fields and Detail's as one object.
func (s Stats) MarshalJSON() ([]byte, error) {
	type common Stats // without this method
	b, err := json.Marshal(common(s))
	if err != nil || s.Detail == nil {
		return b, err
	}
	d, err := json.Marshal(s.Detail)
	if err != nil {
		return nil, err
	}
	if d = bytes.TrimSpace(d); len(d) <= 2 || d[0] != '{' {
		return b, nil // no fields, or not an object: nothing to add
	}
	// Both are objects: join them, "{a}" + "{b}" -> "{a,b}".
	return append(append(b[:len(b)-1], ','), d[1:]...), nil
}
