package kqshim

import (
	"time"

	"github.com/spf13/pflag"
)

// Options configures the watcher. Zero values select the defaults
// documented on each field.
type Options struct {
	// Backend picks how changes underneath the mount are seen: "auto"
	// (the default) takes the first that works here of fanotify, inotify
	// (Linux) or kqueue (macOS, FreeBSD), then poll — and poll alone when
	// SOURCE is on a network filesystem (NFS, SMB, FUSE, ...), whose
	// changes by other machines no local kernel note reports; "off" sees
	// none.
	Backend string
	// PollInterval is how often the poll backend scans SOURCE (default
	// 2s). A scan costs one stat per object in the tree.
	PollInterval time.Duration
	// MaxWatches caps the kernel watches (inotify) or descriptors
	// (kqueue) the watcher may hold; 0 leaves it to the system's limits.
	// A directory beyond the cap is reported with a rescan event and
	// then polled every PollInterval.
	MaxWatches int
	// IndexInterval is how long a change may wait before the offline
	// index on disk includes it (IndexConfig.Interval): what a crash of
	// the daemon can cost. Default 1s.
	IndexInterval time.Duration
	// Force accepts a kernel backend (fanotify, inotify, kqueue) named
	// for a SOURCE on a network or FUSE filesystem, of whose changes by
	// other machines (or the server) it hears nothing; without it, that
	// choice is an error. Either way it is logged.
	Force bool
}

// Backends lists the names Options.Backend accepts.
var Backends = []string{"auto", "fanotify", "inotify", "kqueue", "poll", "off"}

const defaultPollInterval = 2 * time.Second

// setDefaults fills in the zero fields that have defaults. (Every options
// struct in notifyfs has one, called by its constructor and by AddFlags,
// so that --help shows the defaults.)
func (o *Options) setDefaults() {
	if o.Backend == "" {
		o.Backend = "auto"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = defaultPollInterval
	}
}

// AddFlags registers the options as command-line flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.setDefaults()
	fs.StringVar(&o.Backend, "underneath", o.Backend, "how changes made directly on SOURCE are seen: auto, fanotify, inotify, kqueue, poll or off")
	fs.DurationVar(&o.PollInterval, "poll-interval", o.PollInterval, "how often the poll backend scans SOURCE")
	fs.DurationVar(&o.IndexInterval, "index-interval", o.IndexInterval, "how long a change may wait before the offline index beside the journal includes it (0 = 1s)")
	fs.BoolVar(&o.Force, "force", o.Force, "use the --underneath backend named even where it cannot see every change (a kernel backend on a network SOURCE)")
	fs.IntVar(&o.MaxWatches, "max-watches", o.MaxWatches, "most kernel watches (inotify) or descriptors (kqueue) to hold; 0 = system limit")
}
