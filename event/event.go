package event

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Origin tells where a change was made.
type Origin uint8

const (
	// OriginMount: the change was made through the FUSE mount.
	OriginMount Origin = iota + 1
	// OriginBacking: the change was made on SOURCE directly, underneath
	// the mount, and bridged from the kernel's notification facility.
	OriginBacking
	// OriginRemote: the change was made on another host that mounts the
	// same share (clustered mounts) and relayed from there; Host names
	// it.
	OriginRemote
)

var originNames = [...]string{OriginMount: "mount", OriginBacking: "backing", OriginRemote: "remote"}

func (o Origin) String() string {
	if int(o) < len(originNames) && originNames[o] != "" {
		return originNames[o]
	}
	return ""
}

// ParseOrigin is the inverse of Origin.String.
func ParseOrigin(s string) (Origin, error) {
	for i, n := range originNames {
		if n != "" && n == s {
			return Origin(i), nil
		}
	}
	return 0, fmt.Errorf("%w: origin %q", ErrUnknownName, s)
}

// Event is one change (or one stream-control notice). Events are
// immutable once published: the bus shares one *Event between the ring
// and every subscriber queue.
type Event struct {
	// Seq is assigned by Bus.Publish: strictly increasing per bus, no
	// gaps. Stream-control events made for one subscriber (overflow,
	// reset) have Seq 0.
	Seq  uint64
	Time time.Time
	Type Type
	// Unknown is the type name of a decoded event whose type this version
	// does not know (Type is then TypeNone); AppendJSON and AppendText
	// write it back. Emitters leave it empty.
	Unknown string

	// Path is where the object is now, relative to the mount root, with
	// no leading slash; "" is the root itself.
	Path string
	// From is the old path of a rename and the existing name of a link.
	From string
	// Target is the contents of a new symlink.
	Target string
	// Xattr is the attribute name of setxattr/removexattr.
	Xattr string

	IsDir    bool
	LastLink bool // remove: the inode's last name went
	Replaced bool // rename: the destination existed and was replaced
	Exchange bool // rename: RENAME_EXCHANGE swapped two names
	// Offline: a change made while no daemon ran, found at mount by
	// comparing SOURCE with the index kept at the last run (origin
	// backing, time = when it was found).
	Offline bool

	// HasAttr says Ino, Mode and Size were read from the object after the
	// change; without it they are left out of the encoding.
	HasAttr bool
	Ino     uint64
	Mode    uint32
	Size    int64

	// Who made the change. Pid is a process (thread group) id.
	Pid  uint32
	Uid  uint32
	Gid  uint32
	Comm string

	Origin Origin
	// Host names the host where the change was made, for clustered
	// mounts; empty for a mount that is not part of a cluster.
	Host string
	// originName keeps a decoded origin name this version does not know
	// (Origin is then 0), so that AppendJSON writes it back.
	originName string
	// Count is how many identical events were folded into this one; 0
	// and 1 both mean one.
	Count uint32

	// FromSeq and ToSeq name the inclusive range an overflow event says
	// was lost.
	FromSeq uint64
	ToSeq   uint64
	// Epoch is set on reset events: the epoch the stream continues in.
	Epoch string
}

// ActorKnown reports whether Pid, Uid and Gid say who made the change. A
// change made underneath the mount is seen without its process by most
// backends (Pid 0); its encodings then leave the three out rather than
// show uid 0, which would read as root.
func (e *Event) ActorKnown() bool { return !(e.Origin == OriginBacking && e.Pid == 0) }

// Cursor is a position in the stream: the last event a client has seen.
// An empty Epoch means "the server's current epoch".
type Cursor struct {
	Epoch string
	Seq   uint64
}

// String writes the cursor as the command line takes it: EPOCH:SEQ, or
// SEQ alone when the epoch is empty.
func (c Cursor) String() string {
	if c.Epoch == "" {
		return strconv.FormatUint(c.Seq, 10)
	}
	return c.Epoch + ":" + strconv.FormatUint(c.Seq, 10)
}

// ErrBadCursor is wrapped by ParseCursor's errors.
var ErrBadCursor = errors.New("event: bad cursor")

// ParseCursor is the inverse of Cursor.String: "EPOCH:SEQ" or "SEQ".
// ("now", which the command line also takes, is no cursor at all; the
// caller handles it.)
func ParseCursor(s string) (Cursor, error) {
	var c Cursor
	num := s
	if e, seq, ok := strings.Cut(s, ":"); ok {
		c.Epoch, num = e, seq
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil {
		return Cursor{}, fmt.Errorf("%w %q: want SEQ or EPOCH:SEQ", ErrBadCursor, s)
	}
	c.Seq = n
	return c, nil
}
