//go:build darwin || freebsd

package kqshim

import "github.com/notifyfs/notifyfs/eventbus"

// whoDid would fill in the process that made a change; kqueue never says
// (sink.actor stays 0), so there is nothing to fill in.
func whoDid(ev *eventbus.Event, pid int32) {
	if pid > 0 {
		ev.Pid = uint32(pid)
	}
}
