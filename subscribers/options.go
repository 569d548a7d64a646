package subscribers

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Options configures the socket server. The zero value (with SocketPath
// set) is usable.
type Options struct {
	// SocketPath is where the Unix socket is created. Required. It must
	// fit in the OS's sun_path (107 bytes on Linux, 103 on the BSDs).
	SocketPath string
	// Mode is the permission of the socket file, and at the same time the
	// access policy enforced on every connection's peer credentials:
	// group write (0020) admits members of Group, other write (0002)
	// admits anyone. The daemon's own user and root are always admitted.
	// Only permission bits are allowed. Default 0600.
	Mode os.FileMode
	// Group owns the socket file: a group name or a numeric gid. Empty
	// means the daemon's effective group.
	Group string
	// MaxLine bounds one request line in bytes (without the newline). A
	// longer line is answered with line_too_long and the connection is
	// closed, so a client can never make the daemon buffer unbounded
	// input. Default 1 MiB.
	MaxLine int
	// WriteTimeout disconnects a client whose socket write blocks longer
	// than this. The bus never waits for a client anyway; this only frees
	// the connection's goroutine and its subscription. Default 30s.
	WriteTimeout time.Duration
	// DrainTimeout bounds how long Close lets connections deliver the
	// events they still have before cutting them off. Default 2s.
	DrainTimeout time.Duration
	// MaxConns caps the open connections, MaxConnsPerUser those of one
	// uid other than root and the daemon's user: each costs a goroutine
	// pair and buffers, so that no client can exhaust memory or
	// descriptors by connecting. A refused connection gets a hello with
	// code too_many_connections. Defaults 1024 and 64.
	MaxConns        int
	MaxConnsPerUser int
}

const (
	defaultMode         = 0o600
	defaultMaxLine      = 1 << 20
	defaultWriteTimeout = 30 * time.Second
	defaultDrainTimeout = 2 * time.Second
	defaultMaxConns     = 1024
	defaultMaxPerUser   = 64
)

// AddFlags registers --socket, --socket-mode and --socket-group on fs,
// bound to o. Defaults are filled in first so that --help shows them.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.setDefaults()
	fs.StringVar(&o.SocketPath, "socket", o.SocketPath, "path of the subscriber socket")
	fs.Var((*modeValue)(&o.Mode), "socket-mode", "permission of the subscriber socket, in octal; group/other write bits admit the socket group/everyone")
	fs.StringVar(&o.Group, "socket-group", o.Group, "group (name or gid) owning the subscriber socket (default: the daemon's group)")
	fs.IntVar(&o.MaxConns, "max-connections", o.MaxConns, "most subscriber connections open at once")
	fs.IntVar(&o.MaxConnsPerUser, "max-connections-per-user", o.MaxConnsPerUser, "most subscriber connections of one user (other than root and the daemon's user)")
}

// setDefaults fills in the zero fields that have defaults.
func (o *Options) setDefaults() {
	if o.Mode == 0 {
		o.Mode = defaultMode
	}
	if o.MaxLine <= 0 {
		o.MaxLine = defaultMaxLine
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = defaultWriteTimeout
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = defaultDrainTimeout
	}
	if o.MaxConns <= 0 {
		o.MaxConns = defaultMaxConns
	}
	if o.MaxConnsPerUser <= 0 {
		o.MaxConnsPerUser = defaultMaxPerUser
	}
}

// validate reports the first bad field.
func (o *Options) validate() error {
	if o.SocketPath == "" {
		return fmt.Errorf("subscribers: no socket path given")
	}
	if o.Mode&^os.ModePerm != 0 {
		return fmt.Errorf("subscribers: socket mode %#o has bits other than permissions", uint32(o.Mode))
	}
	return nil
}

// resolveGroup turns Options.Group into a gid.
func resolveGroup(g string) (int, error) {
	if g == "" {
		return os.Getegid(), nil
	}
	if n, err := strconv.ParseUint(g, 10, 32); err == nil {
		return int(n), nil
	}
	gr, err := user.LookupGroup(g)
	if err != nil {
		return 0, fmt.Errorf("subscribers: socket group %q: %w", g, err)
	}
	n, err := strconv.ParseUint(gr.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("subscribers: socket group %q has non-numeric gid %q", g, gr.Gid)
	}
	return int(n), nil
}

// modeValue is an os.FileMode flag written in octal, as chmod takes it.
type modeValue os.FileMode

func (m *modeValue) String() string { return fmt.Sprintf("%04o", uint32(*m)) }

func (m *modeValue) Type() string { return "mode" }

func (m *modeValue) Set(s string) error {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0o"), "0O")
	n, err := strconv.ParseUint(t, 8, 32)
	if err != nil {
		return fmt.Errorf("want an octal mode like 0660, got %q", s)
	}
	if n&^0o777 != 0 {
		return fmt.Errorf("mode %q has bits other than rwx permissions", s)
	}
	*m = modeValue(n)
	return nil
}
