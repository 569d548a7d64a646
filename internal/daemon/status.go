package daemon

import (
	"github.com/notifyfs/notifyfs/cluster"
	"github.com/notifyfs/notifyfs/fusefs"
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
	// FuseProtocol is the FUSE protocol version the kernel offered at
	// mount time ("7.41"): what `notifyfs version MOUNTPOINT` reports.
	FuseProtocol string `json:"fuse_protocol,omitempty"`
	// Underneath is nil when no watcher runs (--underneath off).
	Underneath *kqshim.Stats `json:"underneath,omitempty"`
	// Index is nil without a journal (--journal none): no offline index.
	Index *kqshim.IndexStats `json:"index,omitempty"`
	// Cluster is nil unless the mount is clustered (--cluster).
	Cluster *cluster.Stats `json:"cluster,omitempty"`
}

// FSStatus is the filesystem's part of the status.
type FSStatus = fusefs.Stats

// Status returns the daemon's status.
func (d *Daemon) Status() Status {
	return d.statusOf(d.srv.Status())
}

// statusOf completes the server's status (subscribers.Info.Status).
func (d *Daemon) statusOf(srv *subscribers.Status) Status {
	st := Status{Status: srv, FSStatus: d.fsys.Stats(), FuseProtocol: d.fuseProtocol}
	if d.under != nil {
		st.Underneath = d.under.Stats()
	}
	if d.index != nil {
		st.Index = d.index.Stats()
	}
	if d.node != nil {
		st.Cluster = d.node.Stats()
	}
	return st
}
