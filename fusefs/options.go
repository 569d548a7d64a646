package fusefs

import (
	"time"

	"github.com/spf13/pflag"
)

// Options configures the filesystem. Zero values select the defaults
// documented on each field.
type Options struct {
	// NoPassthrough turns off kernel passthrough. By default the kernel
	// reads and writes open files directly on SOURCE (FUSE passthrough,
	// Linux 6.9+, needs CAP_SYS_ADMIN); writes then never reach the
	// daemon and are detected on the open handle (size/mtime change) at
	// flush, fsync, release and every WriteInterval. Where passthrough is
	// unavailable every read and write is a request, as with this set.
	NoPassthrough bool
	// WriteInterval bounds how long a burst of writes through one handle
	// may go unreported: the first write of a burst is reported at once,
	// later ones are folded into one event (with count) per interval.
	// 0 reports every write request.
	WriteInterval time.Duration
	// EntryTimeout, AttrTimeout and NegativeTimeout are the kernel's
	// cache lifetimes for names, attributes and known-missing names.
	EntryTimeout    time.Duration
	AttrTimeout     time.Duration
	NegativeTimeout time.Duration
	// AllowOther lets users other than the mounter use the mount.
	// DefaultPermissions makes the kernel check access against the mode
	// bits the mount reports, before the daemon acts (on Linux, as the
	// caller, so that SOURCE decides as well). On by default as root: the
	// kernel opens fifos and connects to sockets of the mount itself,
	// without asking the daemon, so only its own check guards them
	// between users of the mount. Off, SOURCE alone decides (ACLs on
	// SOURCE then grant access too), and creates, renames and unlinks
	// save a round trip; entries of directories closed to some users are
	// then not cached (node.go, uncached).
	AllowOther         bool
	DefaultPermissions bool
	// MaxHandlesPerUser caps the files one user other than root may
	// hold open through the mount (EMFILE beyond); 0: a quarter of the
	// daemon's descriptor limit.
	MaxHandlesPerUser int
	// Debug logs every FUSE request.
	Debug bool
}

// DefaultOptions returns the options notifyfs mounts with unless told
// otherwise. The cache TTLs are short (one second bounds how long a
// reader through the mount can see a stale name or attribute) for a
// mount that nothing invalidates; with a kernel watcher of SOURCE the
// command raises them (cmd/notifyfs).
func DefaultOptions(root bool) Options {
	return Options{
		WriteInterval:      time.Second,
		EntryTimeout:       time.Second,
		AttrTimeout:        time.Second,
		NegativeTimeout:    time.Second,
		AllowOther:         root,
		DefaultPermissions: root,
	}
}

// AddFlags registers the options as command-line flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.NoPassthrough, "no-passthrough", o.NoPassthrough, "send every read and write through the daemon (no kernel passthrough)")
	fs.DurationVar(&o.WriteInterval, "write-interval", o.WriteInterval, "report a burst of writes at least this often (0 = every write request)")
	fs.DurationVar(&o.EntryTimeout, "entry-timeout", o.EntryTimeout, "kernel cache lifetime of names")
	fs.DurationVar(&o.AttrTimeout, "attr-timeout", o.AttrTimeout, "kernel cache lifetime of attributes")
	fs.DurationVar(&o.NegativeTimeout, "negative-timeout", o.NegativeTimeout, "kernel cache lifetime of missing names")
	fs.BoolVar(&o.AllowOther, "allow-other", o.AllowOther, "let other users use the mount (default on as root)")
	fs.BoolVar(&o.DefaultPermissions, "default-permissions", o.DefaultPermissions, "let the kernel check permissions against the mode bits too (default on as root; see docs/architecture.md, Trust model)")
	fs.IntVar(&o.MaxHandlesPerUser, "max-handles-per-user", o.MaxHandlesPerUser, "open files one user other than root may hold through the mount (0 = a quarter of the descriptor limit)")
	fs.BoolVar(&o.Debug, "debug", o.Debug, "log every FUSE request")
}
