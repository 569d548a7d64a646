package eventbus

import "github.com/spf13/pflag"

// AddFlags registers the bus options as command-line flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.IntVar(&o.RingSize, "ring-size", o.RingSize, "recent events held in memory for subscribers that fall behind or resume (0 = 262144)")
	fs.IntVar(&o.QueueSize, "queue-size", o.QueueSize, "live queue length per subscriber before it is moved to reading the ring (0 = 8192)")
}
