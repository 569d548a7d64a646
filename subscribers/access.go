package subscribers

import (
	"fmt"
	"os"
	"slices"
)

// peer is what the kernel told us about the process at the other end of
// a connection, taken when it connected.
type peer struct {
	// known is false where the OS gives no peer credentials; access then
	// rests on the socket file's permissions alone.
	known bool
	pid   int32 // 0 if the OS does not say
	uid   uint32
	gid   uint32
	// groups are the supplementary groups when the OS hands them over
	// with the credentials (the BSDs); on Linux they are looked up in
	// /proc only when the policy needs them.
	groups []uint32
	comm   string
}

// policy is who may talk to the socket, derived from Options.
type policy struct {
	euid  uint32
	gid   uint32 // the socket's group
	group bool   // group write bit: members of gid may connect
	other bool   // other write bit: anyone may connect
}

func newPolicy(mode os.FileMode, gid int) policy {
	// Write permission is what connect(2) needs on a socket file, so the
	// write bits are the ones that mean "may connect".
	return policy{
		euid:  uint32(os.Geteuid()),
		gid:   uint32(gid),
		group: mode&0o020 != 0,
		other: mode&0o002 != 0,
	}
}

// check admits or refuses a peer. groups is called only when the answer
// depends on the peer's supplementary groups.
func (p policy) check(pr peer, groups func(peer) ([]uint32, error)) error {
	if !pr.known || p.other || pr.uid == 0 || pr.uid == p.euid {
		return nil
	}
	if p.group {
		if pr.gid == p.gid {
			return nil
		}
		gs, err := groups(pr)
		if err != nil {
			return fmt.Errorf("permission denied: uid %d is not the daemon's user and its groups cannot be read: %v", pr.uid, err)
		}
		if slices.Contains(gs, p.gid) {
			return nil
		}
		return fmt.Errorf("permission denied: uid %d is neither the daemon's user (uid %d) nor in the socket's group (gid %d)", pr.uid, p.euid, p.gid)
	}
	return fmt.Errorf("permission denied: uid %d is not the daemon's user (uid %d), and the socket mode grants no group or other access", pr.uid, p.euid)
}

// privileged reports a peer that sees everything: root and the daemon's
// own user (who can read SOURCE anyway).
func (p policy) privileged(pr peer) bool {
	return !pr.known || pr.uid == 0 || pr.uid == p.euid
}
