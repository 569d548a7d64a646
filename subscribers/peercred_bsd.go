//go:build darwin || freebsd

package subscribers

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// peerCred reads the peer's credentials with LOCAL_PEERCRED, which the
// kernel recorded at connect(2). The xucred carries the groups too
// (cr_groups[0] is the effective gid), so no lookup is needed later.
func peerCred(c *net.UnixConn) (peer, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return peer{}, err
	}
	var x *unix.Xucred
	var pid int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		x, serr = unix.GetsockoptXucred(int(fd), unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
		if serr == nil {
			pid = peerPid(int(fd))
		}
	}); err != nil {
		return peer{}, err
	}
	if serr != nil {
		return peer{}, fmt.Errorf("LOCAL_PEERCRED: %w", serr)
	}
	n := int(x.Ngroups)
	if n < 0 || n > len(x.Groups) {
		n = len(x.Groups)
	}
	p := peer{known: true, pid: int32(pid), uid: x.Uid, groups: append([]uint32{}, x.Groups[:n]...)}
	if n > 0 {
		p.gid = x.Groups[0]
	}
	return p, nil
}

func peerGroups(p peer) ([]uint32, error) { return p.groups, nil }
