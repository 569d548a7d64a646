//go:build !linux

package fusefs

// resolveThread: FUSE on these systems reports the process id already.
func resolveThread(tid uint32) (pid uint32) { return tid }

// procNames: there is no /proc to read command names from here.
type procNames struct{}

func (procNames) of(pid uint32) string { return "" }
func (procNames) close()               {}
