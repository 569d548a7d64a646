package fusefs

import (
	"context"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// who made a request: the process (not the thread), its credentials and
// command name.
type who struct {
	pid, uid, gid uint32
	comm          string
}

// callerTTL bounds how long a thread id's resolution is trusted. Thread
// ids are handed out cyclically up to pid_max (4M on 64-bit Linux), so a
// tid recycled within this window is not a practical concern.
const callerTTL = 2 * time.Second

// callers resolves FUSE's thread ids to processes, caching the answer
// because every event needs it and /proc reads cost microseconds. The
// command name is read afresh for every event (through a cached
// descriptor, one pread): a process that execs — a shell running its
// last command — changes its name without changing its pid.
type callers struct {
	mu    sync.Mutex
	m     map[uint32]callerEntry
	names procNames
}

type callerEntry struct {
	pid     uint32
	expires time.Time
}

const maxCallerCache = 4096

// of returns who made the request carried by ctx.
func (c *callers) of(ctx context.Context) who {
	caller, ok := fuse.FromContext(ctx)
	if !ok {
		return who{}
	}
	w := who{uid: caller.Uid, gid: caller.Gid}
	if caller.Pid == 0 {
		return w // the kernel itself (e.g. writeback): no process
	}
	now := time.Now()
	c.mu.Lock()
	e, hit := c.m[caller.Pid]
	c.mu.Unlock()
	if !hit || now.After(e.expires) {
		e = callerEntry{pid: resolveThread(caller.Pid), expires: now.Add(callerTTL)}
		c.mu.Lock()
		if c.m == nil || len(c.m) >= maxCallerCache {
			c.m = make(map[uint32]callerEntry)
		}
		c.m[caller.Pid] = e
		c.mu.Unlock()
	}
	w.pid = e.pid
	w.comm = c.names.of(e.pid)
	return w
}

// close releases cached descriptors.
func (c *callers) close() { c.names.close() }
