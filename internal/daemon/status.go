package daemon

import (
	"github.com/notifyfs/notifyfs/cluster"
	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/subscribers"
)

// Status is the daemon's status object: the reply to a status request
// and what `notifyfs status` prints. Its JSON is one flat object — the
// socket server's fields (seq, epoch, subscribers, drops, backend, ...),
// the filesystem's beside them, and the watcher's under "underneath".
// The names are part of the command-line contract.
type Status struct {
	*subscribers.Status
	FSStatus
	// Underneath is nil when no watcher runs (--underneath off).
	Underneath *kqshim.Stats `json:"underneath,omitempty"`
	// Cluster is nil unless the mount is clustered (--cluster).
	Cluster *cluster.Stats `json:"cluster,omitempty"`
}

// FSStatus is the filesystem's part of the status.
type FSStatus struct {
	// OpenWriters counts handles open for writing.
	OpenWriters int `json:"open_writers"`
	// Passthrough: reads and writes of regular files use kernel
	// passthrough.
	Passthrough bool `json:"passthrough"`
	// WriteInterval is how often a busy writer is reported (--write-interval).
	WriteInterval string `json:"write_interval"`
}

// fsStatusKeys are the keys of fusefs.FS.Stats that FSStatus carries;
// a test checks that it carries them all.
var fsStatusKeys = []string{"open_writers", "passthrough", "write_interval"}

// fsStatusOf types the filesystem's status map (fusefs.FS.Stats).
func fsStatusOf(m map[string]any) FSStatus {
	var st FSStatus
	st.OpenWriters, _ = m["open_writers"].(int)
	st.Passthrough, _ = m["passthrough"].(bool)
	st.WriteInterval, _ = m["write_interval"].(string)
	return st
}

// Status returns the daemon's status.
func (d *Daemon) Status() Status {
	return d.statusOf(d.srv.Status())
}

// statusOf completes the server's status (subscribers.Info.Status).
func (d *Daemon) statusOf(srv *subscribers.Status) Status {
	st := Status{Status: srv, FSStatus: fsStatusOf(d.fsys.Stats())}
	if d.under != nil {
		st.Underneath = d.under.Stats()
	}
	if d.node != nil {
		st.Cluster = d.node.Stats()
	}
	return st
}
