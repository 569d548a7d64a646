package subscribers

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
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
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(int(cred.Pid)) + "/comm"); err == nil {
		p.comm = string(bytes.TrimSpace(b))
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
	f, err := os.Open("/proc/" + strconv.Itoa(int(p.pid)) + "/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Groups:")
		if !ok {
			continue
		}
		var gs []uint32
		for _, s := range strings.Fields(rest) {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("bad Groups line in /proc/%d/status", p.pid)
			}
			gs = append(gs, uint32(n))
		}
		return gs, nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("no Groups line in /proc/%d/status", p.pid)
}
