package fusefs

import "github.com/notifyfs/notifyfs/internal/procfs"

// resolveThread maps a thread id to its thread group (the process), from
// /proc. A thread that is already gone is reported as itself.
func resolveThread(tid uint32) (pid uint32) { return procfs.Tgid(tid) }

// procNames reads processes' command names (procfs.Comms: through
// descriptors that stay bound to their process).
type procNames struct{ procfs.Comms }

func (p *procNames) of(pid uint32) string { return p.Comms.Of(pid) }

func (p *procNames) close() { p.Comms.Close() }
