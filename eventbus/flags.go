package eventbus

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// AddFlags registers the bus options as command-line flags. The journal
// directory itself (--journal) is registered by the command, whose
// default depends on the mount.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.Var((*byteSize)(&o.RingBytes), "ring-bytes", "memory budget of the recent events shared by every subscriber; beyond it they read the journal (e.g. 256MiB; 0 = 64MiB)")
	fs.IntVar(&o.RingSize, "ring-size", o.RingSize, "at most this many recent events held in memory, whatever --ring-bytes allows (0 = 262144)")
	fs.IntVar(&o.QueueSize, "queue-size", o.QueueSize, "ignored: subscribers share the ring and have no queue of their own")
	_ = fs.MarkHidden("queue-size")
	o.Journal.AddFlags(fs)
}

// AddFlags registers the journal's durability and retention flags.
func (o *JournalOptions) AddFlags(fs *pflag.FlagSet) {
	fs.Var((*syncFlag)(&o.Sync), "journal-sync", "when events reach the disk: always (before the operation returns), interval, never")
	fs.DurationVar(&o.SyncInterval, "journal-sync-interval", o.SyncInterval, "fsync period for --journal-sync interval (0 = 100ms)")
	fs.Var((*byteSize)(&o.MaxBytes), "journal-max-size", "delete the oldest journal segments beyond this size (e.g. 512MiB; 0 = 1GiB)")
	fs.DurationVar(&o.MaxAge, "journal-max-age", o.MaxAge, "delete journal segments older than this (0 = no age limit)")
}

type syncFlag SyncPolicy

func (s *syncFlag) String() string { return SyncPolicy(*s).String() }
func (s *syncFlag) Type() string   { return "policy" }
func (s *syncFlag) Set(v string) error {
	p, err := ParseSyncPolicy(v)
	if err != nil {
		return err
	}
	*s = syncFlag(p)
	return nil
}

// byteSize is a flag taking 4096, 64KiB, 512MiB, 2GiB (or KB/MB/GB as
// powers of 1000).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }
func (b *byteSize) Type() string   { return "size" }
func (b *byteSize) Set(v string) error {
	n, err := ParseSize(v)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

// ParseSize parses a byte count with an optional unit suffix.
func ParseSize(v string) (int64, error) {
	s := strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q (want e.g. 4096, 64MiB, 2GiB)", v)
	}
	return n * mult, nil
}
