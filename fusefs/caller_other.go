//go:build !linux

package fusefs

// resolveThread: FUSE on these systems reports the process id already,
// and there is no /proc to read a command name from.
func resolveThread(tid uint32) (pid uint32, comm string) {
	return tid, ""
}
