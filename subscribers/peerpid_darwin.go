package subscribers

import "golang.org/x/sys/unix"

// peerPid asks for the peer's pid (LOCAL_PEERPID); 0 if unavailable.
func peerPid(fd int) int {
	pid, err := unix.GetsockoptInt(fd, unix.SOL_LOCAL, unix.LOCAL_PEERPID)
	if err != nil {
		return 0
	}
	return pid
}
