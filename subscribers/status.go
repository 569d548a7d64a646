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

// peerInfo is a connection's peer as shown in status.
type peerInfo struct {
	Pid  int32  `json:"pid,omitempty"`
	Uid  uint32 `json:"uid"`
	Gid  uint32 `json:"gid"`
	Comm string `json:"comm,omitempty"`
}

type subscriberStatus struct {
	eventbus.SubscriberStats
	Connection uint64    `json:"connection,omitempty"` // 0: not a socket subscriber (e.g. the daemon's own --print)
	Peer       *peerInfo `json:"peer,omitempty"`
}

type connStatus struct {
	ID           uint64    `json:"id"`
	Peer         *peerInfo `json:"peer,omitempty"`
	Connected    time.Time `json:"connected"`
	Subscription uint64    `json:"subscription,omitempty"`
}

func (c *conn) peerInfo() *peerInfo {
	p := c.peer.Load()
	if p == nil || !p.known {
		return nil
	}
	return &peerInfo{Pid: p.pid, Uid: p.uid, Gid: p.gid, Comm: p.comm}
}

// status builds the object of a status reply.
func (s *Server) status() map[string]any {
	st := s.bus.Stats()

	s.mu.Lock()
	conns := slices.Collect(maps.Keys(s.conns))
	s.mu.Unlock()
	slices.SortFunc(conns, func(a, b *conn) int { return cmp.Compare(a.id, b.id) })

	bySub := make(map[uint64]*conn)
	cs := make([]connStatus, 0, len(conns))
	for _, c := range conns {
		if c.peer.Load() == nil {
			continue // still being checked, or refused
		}
		id := c.subID.Load()
		if id != 0 {
			bySub[id] = c
		}
		cs = append(cs, connStatus{ID: c.id, Peer: c.peerInfo(), Connected: c.since.UTC(), Subscription: id})
	}
	subs := make([]subscriberStatus, 0, len(st.Subscribers))
	for _, ss := range st.Subscribers {
		x := subscriberStatus{SubscriberStats: ss}
		if c := bySub[ss.ID]; c != nil {
			x.Connection, x.Peer = c.id, c.peerInfo()
		}
		subs = append(subs, x)
	}

	m := map[string]any{
		"mount":   s.info.MountPoint,
		"source":  s.info.Source,
		"backend": s.info.Backend,
	}
	if s.info.Extra != nil {
		maps.Copy(m, s.info.Extra())
	}
	// Set last: what the bus and the server say cannot be overridden.
	maps.Copy(m, map[string]any{
		"seq":         st.Seq,
		"epoch":       st.Epoch,
		"oldest_seq":  st.OldestSeq,
		"ring_size":   st.RingSize,
		"pid":         os.Getpid(),
		"protocol":    wire.ProtocolVersion,
		"socket":      s.absPath,
		"subscribers": subs,
		"drops":       st.Dropped, // events lost to overflow, by every subscriber ever

		"connections": cs,
	})
	if st.Journal != nil {
		m["journal"] = st.Journal
	}
	return m
}
