package eventbus

import "github.com/notifyfs/notifyfs/event"

// The event type and its codecs live in package event, which imports
// nothing heavy so that the public client can use it. These aliases keep
// the names this package has always exported, so that emitters (fusefs,
// kqshim) and tests compile unchanged; new code should name package
// event directly.
type (
	Event    = event.Event
	Type     = event.Type
	TypeMask = event.TypeMask
	Origin   = event.Origin
	Cursor   = event.Cursor
	Filter   = event.Filter
)

// Event types (see package event).
const (
	TypeNone    = event.TypeNone
	Create      = event.Create
	Mkdir       = event.Mkdir
	Mknod       = event.Mknod
	Symlink     = event.Symlink
	Link        = event.Link
	Remove      = event.Remove
	Rmdir       = event.Rmdir
	Rename      = event.Rename
	Write       = event.Write
	Truncate    = event.Truncate
	Chmod       = event.Chmod
	Chown       = event.Chown
	Utimes      = event.Utimes
	Setxattr    = event.Setxattr
	Removexattr = event.Removexattr
	CloseWrite  = event.CloseWrite
	Open        = event.Open
	Close       = event.Close
	Overflow    = event.Overflow
	Rescan      = event.Rescan
	Reset       = event.Reset
	Unmount     = event.Unmount

	DurabilityLost     = event.DurabilityLost
	DurabilityRestored = event.DurabilityRestored
)

// Origins (see package event).
const (
	OriginMount   = event.OriginMount
	OriginBacking = event.OriginBacking
	OriginRemote  = event.OriginRemote
)

// Type sets and names (see package event).
var (
	OptInTypes     = event.OptInTypes
	ControlTypes   = event.ControlTypes
	DefaultTypes   = event.DefaultTypes
	ErrUnknownName = event.ErrUnknownName
)

// ParseType, ParseTypeList, ParseOrigin, AllTypeNames and MaskOf are
// package event's.
var (
	ParseType     = event.ParseType
	ParseTypeList = event.ParseTypeList
	ParseOrigin   = event.ParseOrigin
	AllTypeNames  = event.AllTypeNames
	MaskOf        = event.MaskOf
)
