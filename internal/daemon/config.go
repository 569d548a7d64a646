package daemon

import (
	"github.com/hanwen/go-fuse/v2/fuse"
	"io"
	"log"
	"os"
	"time"

	"github.com/notifyfs/notifyfs/cluster"
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/fusefs"
	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/subscribers"
)

// Config is everything a daemon is started with. Source and MountPoint
// are required; every other zero value is a documented default.
type Config struct {
	// Source and MountPoint are absolute, canonical paths, already
	// checked (mountutil.CanonicalDir, CheckOverlap): Start does not
	// validate them again.
	Source, MountPoint string

	// Journal says where events are kept on disk: "" = the default
	// directory for this (SOURCE, MOUNTPOINT) pair under
	// mountutil.StateDir, "none" = memory only, anything else = that
	// directory. Bus.Journal.Dir is set from it.
	Journal string
	// Bus configures the event bus and the journal's durability.
	Bus eventbus.Options
	// FS configures the filesystem.
	FS fusefs.Options
	// TTLsChosen says the user set FS's kernel cache lifetimes; otherwise
	// they follow the underneath backend (long where it invalidates the
	// caches promptly, see longTTL).
	TTLsChosen bool
	// Socket configures the subscriber socket; an empty SocketPath means
	// the default for MountPoint (mountutil.SocketPath).
	Socket subscribers.Options
	// Underneath configures the watcher of changes made on SOURCE
	// directly; Backend "off" starts none ("" is "auto", as for kqshim).
	Underneath kqshim.Options
	// ReadOnly mounts read-only: the kernel refuses every change with
	// EROFS before it reaches the daemon (`-o ro`).
	ReadOnly bool
	// Cluster joins the mount to a share's event stream over NATS
	// JetStream; not clustered when it names no server.
	Cluster cluster.Options
	// Advertise records the socket under MountPoint's key in the runtime
	// directory, so that `notifyfs watch MOUNTPOINT` finds it.
	Advertise bool

	// Print, if set, receives every event as it happens, one line each
	// (`mount -f --print`), as JSON with PrintJSON, else as text.
	Print     io.Writer
	PrintJSON bool

	// UnmountWait is how long Close retries a busy mount before it
	// detaches it. Default 5s.
	UnmountWait time.Duration
	// Logger receives the daemon's notices. Default: standard error with
	// the prefix "notifyfs: ".
	Logger *log.Logger

	// Instrument, if set, wraps the filesystem's request handler before
	// it is mounted (benchmarks count the kernel's requests with it).
	Instrument func(fuse.RawFileSystem) fuse.RawFileSystem
}

// longTTL is the kernel cache lifetime when a kernel backend keeps the
// caches true by invalidation; each expiry costs a round trip to the
// daemon, so long lifetimes make warm lookups nearly native.
const longTTL = time.Minute

// flushTimeout bounds how long a sync waits for the underneath watcher
// (a poll backend scans the whole tree to answer).
const flushTimeout = 30 * time.Second

// setDefaults fills in the zero fields that have defaults.
func (c *Config) setDefaults() {
	if c.UnmountWait <= 0 {
		c.UnmountWait = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = log.New(os.Stderr, "notifyfs: ", log.LstdFlags)
	}
}
