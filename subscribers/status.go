package subscribers

import (
	"cmp"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

// PeerInfo is a connection's peer as shown in status.
type PeerInfo struct {
	Pid  int32  `json:"pid,omitempty"`
	Uid  uint32 `json:"uid"`
	Gid  uint32 `json:"gid"`
	Comm string `json:"comm,omitempty"`
}

// SubscriberStatus is one subscription in status.
type SubscriberStatus struct {
	eventbus.SubscriberStats
	Connection uint64    `json:"connection,omitempty"` // 0: not a socket subscriber (e.g. the daemon's own --print)
	Peer       *PeerInfo `json:"peer,omitempty"`
}

// ConnStatus is one connection in status.
type ConnStatus struct {
	ID           uint64    `json:"id"`
	Peer         *PeerInfo `json:"peer,omitempty"`
	Connected    time.Time `json:"connected"`
	Subscription uint64    `json:"subscription,omitempty"`
}

func (c *conn) peerInfo() *PeerInfo {
	p := c.peer.Load()
	if p == nil || !p.known {
		return nil
	}
	return &PeerInfo{Pid: p.pid, Uid: p.uid, Gid: p.gid, Comm: p.comm}
}

// Status is the server's part of the status object (the reply to a
// status request, and what `notifyfs status` prints): the stream, its
// subscribers and connections. The daemon adds its filesystem's and
// watcher's figures beside these fields (Info.Status); the names are part
// of the command-line contract (top-level seq, epoch, subscribers, drops,
// backend, ...).
type Status struct {
	Mount   string `json:"mount"`
	Source  string `json:"source"`
	Backend string `json:"backend"`

	Seq       uint64 `json:"seq"`
	Epoch     string `json:"epoch"`
	OldestSeq uint64 `json:"oldest_seq"`
	RingSize  int    `json:"ring_size"`
	Pid       int    `json:"pid"`
	Protocol  int    `json:"protocol"`
	Socket    string `json:"socket"`
	// Subscribers are the bus's subscriptions, socket ones with their
	// connection and peer.
	Subscribers []SubscriberStatus `json:"subscribers"`
	// Drops counts events lost to overflow, by every subscriber ever.
	Drops       uint64       `json:"drops"`
	Connections []ConnStatus `json:"connections"`
	// Journal is nil for a memory-only bus.
	Journal *eventbus.JournalStats `json:"journal,omitempty"`
}

// Status returns the server's status.
func (s *Server) Status() *Status {
	st := s.bus.Stats()

	s.mu.Lock()
	conns := slices.Collect(maps.Keys(s.conns))
	s.mu.Unlock()
	slices.SortFunc(conns, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })

	bySub := make(map[uint64]*conn)
	cs := make([]ConnStatus, 0, len(conns))
	for _, c := range conns {
		if c.peer.Load() == nil {
			continue // still being checked, or refused
		}
		id := c.subID.Load()
		if id != 0 {
			bySub[id] = c
		}
		cs = append(cs, ConnStatus{ID: c.id, Peer: c.peerInfo(), Connected: c.since.UTC(), Subscription: id})
	}
	subs := make([]SubscriberStatus, 0, len(st.Subscribers))
	for _, ss := range st.Subscribers {
		x := SubscriberStatus{SubscriberStats: ss}
		if c := bySub[ss.ID]; c != nil {
			x.Connection, x.Peer = c.id, c.peerInfo()
		}
		subs = append(subs, x)
	}
	return &Status{
		Mount: s.info.MountPoint, Source: s.info.Source, Backend: s.info.Backend,
		Seq: st.Seq, Epoch: st.Epoch, OldestSeq: st.OldestSeq, RingSize: st.RingSize,
		Pid: os.Getpid(), Protocol: wire.ProtocolVersion, Socket: s.absPath,
		Subscribers: subs, Drops: st.Dropped, Connections: cs, Journal: st.Journal,
	}
}

// status builds the object of a status reply for the given peer. Other
// clients (their pids, uids and commands) are shown only to root and the
// daemon's user; anyone else sees its own uid's connections alone.
func (s *Server) status(viewer *peer) any {
	st := s.Status()
	if viewer != nil && !s.policy.privileged(*viewer) {
		own := func(p *PeerInfo) bool { return p != nil && p.Uid == viewer.uid }
		st.Connections = slices.DeleteFunc(st.Connections, func(c ConnStatus) bool { return !own(c.Peer) })
		st.Subscribers = slices.DeleteFunc(st.Subscribers, func(x SubscriberStatus) bool { return !own(x.Peer) })
	}
	if s.info.Status != nil {
		return s.info.Status(st)
	}
	return st
}
