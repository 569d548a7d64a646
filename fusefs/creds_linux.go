package fusefs

import (
	"context"
	"fmt"
	"log"
	"os"
	"runtime"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/procfs"
)

// identities reads callers' credentials and switches threads to them.
type identities struct {
	// enabled: the daemon runs as root and can take any identity.
	enabled bool
	// The daemon's own identity, restored after every switched call.
	uid, gid  int
	groups    []int
	eff, perm uint64
	inh       [2]uint32
	status    procfs.Statuses
	// warnHidden logs once that callers without a pid are refused.
	warnHidden sync.Once
}

func newIdentities() (*identities, error) {
	id := &identities{uid: os.Geteuid(), gid: os.Getegid()}
	if id.uid != 0 {
		return id, nil // only the mounting user can reach the mount
	}
	groups, err := unix.Getgroups()
	if err != nil {
		return nil, err
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return nil, fmt.Errorf("capget: %w", err)
	}
	id.groups = groups
	id.eff = uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	id.perm = uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	id.inh = [2]uint32{data[0].Inheritable, data[1].Inheritable}
	id.enabled = true
	return id, nil
}

// of establishes who made the request in ctx. A root caller holding at
// least the daemon's effective capabilities is the daemon's equal: one
// capget (about a microsecond) tells. Anyone else's groups and
// capabilities are read from /proc/TID/status — afresh for every request,
// since a process may drop groups or capabilities at any moment without
// changing its uid (a container runtime about to exec its payload does).
func (id *identities) of(ctx context.Context) (creds, syscall.Errno) {
	if !id.enabled {
		return creds{}, 0
	}
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return creds{}, 0 // the daemon's own (no request)
	}
	c := creds{uid: caller.Uid, gid: caller.Gid, switched: true}
	if caller.Pid == 0 {
		// A process outside the daemon's pid namespace: its groups and
		// capabilities cannot be read, and acting with its ids alone
		// would drop the groups that deny it access (a mode like 0604).
		// Refused; run the daemon in the pid namespace of its users.
		id.warnHidden.Do(func() {
			log.Printf("notifyfs: refusing requests from processes outside the daemon's pid namespace (their groups cannot be read); run the daemon in its users' pid namespace")
		})
		return creds{}, syscall.EACCES
	}
	if caller.Uid == 0 && caller.Gid == uint32(id.gid) {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3, Pid: int32(caller.Pid)}
		var data [2]unix.CapUserData
		if unix.Capget(&hdr, &data[0]) == nil {
			eff := uint64(data[0].Effective) | uint64(data[1].Effective)<<32
			if eff&id.eff == id.eff {
				return creds{}, 0
			}
		}
	}
	st, err := id.status.Of(caller.Pid)
	if err != nil || st.Uid[procfs.FS] != caller.Uid || st.Gid[procfs.FS] != caller.Gid {
		// The task is gone or changed its ids since the request: who it
		// is now cannot be known, so nothing is done for it.
		return creds{}, syscall.EACCES
	}
	c.groups = make([]int, len(st.Groups))
	for i, g := range st.Groups {
		c.groups[i] = int(g)
	}
	c.capEff = st.CapEff & id.perm
	return c, 0
}

// run calls fn with the thread acting as c. The switch is per thread
// (setfsuid, setfsgid, setgroups and capset all act on the calling thread
// only, as raw system calls), so the goroutine is locked to its thread
// for the duration. If the daemon's identity cannot be restored the
// thread is unusable: the process stops rather than serve anyone with
// the wrong rights.
func (id *identities) run(c *creds, fn func() error) error {
	if !c.switched || !id.enabled {
		return fn()
	}
	runtime.LockOSThread()
	if err := id.enter(c); err != nil {
		id.leave()
		runtime.UnlockOSThread()
		return err
	}
	err := fn()
	id.leave()
	runtime.UnlockOSThread()
	return err
}

func (id *identities) enter(c *creds) error {
	groups := c.groups
	if groups == nil {
		groups = []int{}
	}
	if err := unix.Setgroups(groups); err != nil {
		return err
	}
	unix.Setfsgid(int(c.gid))
	unix.Setfsuid(int(c.uid))
	// setfsuid reports the previous id and no failure: check it took.
	if cur, _ := unix.SetfsuidRetUid(-1); cur != int(c.uid) {
		return syscall.EPERM
	}
	if cur, _ := unix.SetfsgidRetGid(-1); cur != int(c.gid) {
		return syscall.EPERM
	}
	return id.capset(c.capEff)
}

func (id *identities) leave() {
	if err := id.capset(id.eff); err != nil {
		panic(fmt.Sprintf("notifyfs: cannot restore the daemon's capabilities: %v", err))
	}
	unix.Setfsuid(id.uid)
	unix.Setfsgid(id.gid)
	if err := unix.Setgroups(id.groups); err != nil {
		panic(fmt.Sprintf("notifyfs: cannot restore the daemon's groups: %v", err))
	}
	if cur, _ := unix.SetfsuidRetUid(-1); cur != id.uid {
		panic("notifyfs: cannot restore the daemon's fsuid")
	}
}

// capset sets the thread's effective capabilities, keeping the permitted
// and inheritable sets, so that they can be raised again.
func (id *identities) capset(eff uint64) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(eff), Permitted: uint32(id.perm), Inheritable: id.inh[0]},
		{Effective: uint32(eff >> 32), Permitted: uint32(id.perm >> 32), Inheritable: id.inh[1]},
	}
	return unix.Capset(&hdr, &data[0])
}

// killPrivCapability is negotiated where the daemon acts as the caller.
const killPrivCapability = fuse.CAP_HANDLE_KILLPRIV_V2
