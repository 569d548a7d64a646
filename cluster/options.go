package cluster

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Options configures a clustered mount (and `notifyfs watch --cluster`).
// The zero value is not clustered.
type Options struct {
	// URLs are the NATS servers (nats://host:port), any of the cluster.
	URLs []string
	// Share names the shared tree; every mount of it uses the same name.
	// Letters, digits, '-' and '_'.
	Share string
	// Host names this mount in the cluster; default: the machine's
	// hostname up to its first dot. Two mounts of one share on one
	// machine need different names.
	Host string
	// Replicas is the stream's replica count when the stream is created
	// (1 by default; 3 in a three-node cluster). An existing stream is
	// used as it is.
	Replicas int
	// MaxAge bounds how long the stream keeps events (0: forever, or
	// until MaxBytes).
	MaxAge time.Duration
	// MaxBytes bounds the stream's size when it is created (default 1 GiB).
	MaxBytes int64
	// MaxInFlight bounds the publishes awaiting JetStream's
	// acknowledgement (default 4096).
	MaxInFlight int
	// Creds is a NATS credentials file (JWT and nkey seed).
	Creds string
	// NKey is an nkey seed file.
	NKey string
	// User and Password authenticate with a user and password (the
	// password may also come from NOTIFYFS_NATS_PASSWORD).
	User, Password string
	// Token authenticates with a token.
	Token string
	// TLSCA, TLSCert, TLSKey: TLS to the servers, with a CA to trust and
	// a client certificate.
	TLSCA, TLSCert, TLSKey string
	// EchoWindow is the least time a remote change stands in the
	// underneath watcher's ledger (default 5s; the poll backend's
	// window is also at least two scans).
	EchoWindow time.Duration
	// EchoHold is how long the underneath watcher holds a change it
	// found before publishing it, so that another host's event for the
	// same change, arriving just after, absorbs it (default 500ms).
	EchoHold time.Duration
}

// Enabled reports whether the mount is clustered.
func (o *Options) Enabled() bool { return len(o.URLs) > 0 }

// ErrOptions is wrapped by errors about the options.
var ErrOptions = errors.New("cluster: options")

var token = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

func (o *Options) setDefaults() {
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 4096
	}
	if o.EchoWindow <= 0 {
		o.EchoWindow = 5 * time.Second
	}
	if o.EchoHold <= 0 {
		o.EchoHold = 500 * time.Millisecond
	}
	if o.Host == "" && o.Enabled() {
		o.Host = defaultHost()
	}
	if o.Password == "" {
		o.Password = os.Getenv("NOTIFYFS_NATS_PASSWORD")
	}
}

// defaultHost is the hostname's first label with anything a NATS subject
// token cannot hold replaced.
func defaultHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "host"
	}
	h, _, _ = strings.Cut(h, ".")
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, h)
}

// AddFlags registers the options as flags of `notifyfs mount`.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	o.addConnFlags(fs)
	fs.StringVar(&o.Host, "host", o.Host, "this mount's name in the cluster (default: the hostname)")
	fs.IntVar(&o.Replicas, "cluster-replicas", o.Replicas, "replicas of the share's stream when it is created")
	fs.DurationVar(&o.MaxAge, "cluster-max-age", o.MaxAge, "how long the share's stream keeps events when it is created (0: no limit)")
	fs.Int64Var(&o.MaxBytes, "cluster-max-bytes", o.MaxBytes, "size limit of the share's stream when it is created")
	fs.IntVar(&o.MaxInFlight, "cluster-in-flight", o.MaxInFlight, "most publishes awaiting JetStream's acknowledgement")
	fs.DurationVar(&o.EchoWindow, "cluster-echo-window", o.EchoWindow, "least time a remote change is recognised when the local watcher sees it")
	fs.DurationVar(&o.EchoHold, "cluster-echo-hold", o.EchoHold, "how long a change seen underneath waits for another host's event of it")
}

// AddWatchFlags registers the options `notifyfs watch --cluster` needs.
func (o *Options) AddWatchFlags(fs *pflag.FlagSet) { o.addConnFlags(fs) }

func (o *Options) addConnFlags(fs *pflag.FlagSet) {
	o.setDefaults()
	fs.StringSliceVar(&o.URLs, "cluster", o.URLs, "NATS server URLs (nats://host:port, comma-separated): join the share's event stream")
	fs.StringVar(&o.Share, "share", o.Share, "the share's name (with --cluster)")
	fs.StringVar(&o.Creds, "nats-creds", o.Creds, "NATS credentials file")
	fs.StringVar(&o.NKey, "nats-nkey", o.NKey, "NATS nkey seed file")
	fs.StringVar(&o.User, "nats-user", o.User, "NATS user (password from NOTIFYFS_NATS_PASSWORD)")
	fs.StringVar(&o.Token, "nats-token", o.Token, "NATS token")
	fs.StringVar(&o.TLSCA, "nats-tls-ca", o.TLSCA, "CA certificate to trust for NATS TLS")
	fs.StringVar(&o.TLSCert, "nats-tls-cert", o.TLSCert, "client certificate for NATS TLS")
	fs.StringVar(&o.TLSKey, "nats-tls-key", o.TLSKey, "client key for NATS TLS")
}

// Validate checks the options of a clustered mount (mount: a host is
// needed) or watcher.
func (o *Options) Validate(mount bool) error {
	o.setDefaults()
	if !o.Enabled() {
		if o.Share != "" {
			return fmt.Errorf("%w: --share needs --cluster", ErrOptions)
		}
		return nil
	}
	if !token.MatchString(o.Share) {
		return fmt.Errorf("%w: --share %q: want letters, digits, '-' or '_'", ErrOptions, o.Share)
	}
	if mount && !token.MatchString(o.Host) {
		return fmt.Errorf("%w: --host %q: want letters, digits, '-' or '_'", ErrOptions, o.Host)
	}
	if o.Replicas > 5 {
		return fmt.Errorf("%w: --cluster-replicas %d: JetStream allows at most 5", ErrOptions, o.Replicas)
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return fmt.Errorf("%w: --nats-tls-cert and --nats-tls-key go together", ErrOptions)
	}
	return nil
}

// StreamName is the JetStream stream of a share.
func StreamName(share string) string { return "NOTIFYFS_" + share }

// Subject is where host publishes the share's events.
func Subject(share, host string) string { return "notifyfs." + share + "." + host }

// AllSubjects matches every host's events of a share.
func AllSubjects(share string) string { return "notifyfs." + share + ".>" }
