package subscribers

import (
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/procfs"
)

// peerCred reads the peer's credentials with SO_PEERCRED: the kernel
// recorded them at connect(2), so the peer cannot lie about them.
func peerCred(c *net.UnixConn) (peer, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return peer{}, err
	}
	var cred *unix.Ucred
	var serr error
	if err := rc.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return peer{}, err
	}
	if serr != nil {
		return peer{}, fmt.Errorf("SO_PEERCRED: %w", serr)
	}
	p := peer{known: true, pid: cred.Pid, uid: cred.Uid, gid: cred.Gid}
	if comm, err := procfs.Comm(uint32(cred.Pid)); err == nil {
		p.comm = strings.TrimSpace(comm)
	}
	return p, nil
}

// peerGroups reads the peer's supplementary groups from the "Groups:"
// line of /proc/PID/status. SO_PEERCRED carries no groups, and
// SO_PEERGROUPS, which would give them race-free, has no usable wrapper
// in x/sys (GetsockoptString stops at the first zero byte). /proc is
// read right after accept, and only when the answer depends on it; it
// could mislead only if the peer exited and its pid went to a member of
// the socket's group within those microseconds.
func peerGroups(p peer) ([]uint32, error) {
	if p.groups != nil {
		return p.groups, nil
	}
	st, err := procfs.ReadStatus(uint32(p.pid))
	if err != nil {
		return nil, err
	}
	return st.Groups, nil
}
