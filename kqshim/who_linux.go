package kqshim

import (
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/internal/procfs"
)

// whoDid fills in the process that made a change, where the backend knows
// its pid (fanotify): its effective uid and gid and its command name, all
// read from one /proc descriptor of that process, so they describe one
// process even if the pid is reused meanwhile.
func whoDid(ev *eventbus.Event, pid int32) {
	if pid <= 0 {
		return
	}
	ev.Pid = uint32(pid)
	if t, err := procfs.ReadTask(uint32(pid)); err == nil {
		ev.Uid, ev.Gid, ev.Comm = t.Uid[procfs.Effective], t.Gid[procfs.Effective], t.Comm
	}
}
