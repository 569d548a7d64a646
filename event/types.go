package event

import (
	"errors"
	"fmt"
	"strings"
)

// Type is the kind of an event. The numeric values are internal (they
// index masks); the names are the contract.
type Type uint8

const (
	TypeNone Type = iota
	// Namespace changes.
	Create
	Mkdir
	Mknod
	Symlink
	Link
	Remove
	Rmdir
	Rename
	// Content and metadata changes.
	Write
	Truncate
	Chmod
	Chown
	Utimes
	Setxattr
	Removexattr
	CloseWrite
	// Opt-in only: never delivered unless asked for by type.
	Open
	Close
	// Stream control.
	Overflow
	Rescan
	Reset
	Unmount
	// The journal stopped recording (from_seq is the first event that
	// is not on disk), and started again (from_seq is the first that is).
	DurabilityLost
	DurabilityRestored

	numTypes
)

var typeNames = [numTypes]string{
	Create: "create", Mkdir: "mkdir", Mknod: "mknod", Symlink: "symlink",
	Link: "link", Remove: "remove", Rmdir: "rmdir", Rename: "rename",
	Write: "write", Truncate: "truncate", Chmod: "chmod", Chown: "chown",
	Utimes: "utimes", Setxattr: "setxattr", Removexattr: "removexattr",
	CloseWrite: "close_write", Open: "open", Close: "close",
	Overflow: "overflow", Rescan: "rescan", Reset: "reset", Unmount: "unmount",
	DurabilityLost: "durability_lost", DurabilityRestored: "durability_restored",
}

// ErrUnknownName is returned when a type or origin name is not known.
var ErrUnknownName = errors.New("event: unknown name")

func (t Type) String() string {
	if t < numTypes && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ParseType is the inverse of Type.String.
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if n != "" && n == s {
			return Type(i), nil
		}
	}
	return TypeNone, fmt.Errorf("%w: event type %q", ErrUnknownName, s)
}

// AllTypeNames lists every type name in enum order.
func AllTypeNames() []string {
	out := make([]string, 0, numTypes)
	for _, n := range typeNames {
		if n != "" {
			out = append(out, n)
		}
	}
	return out
}

// TypeMask is a set of types.
type TypeMask uint32

// MaskOf returns the set holding the given types.
func MaskOf(types ...Type) TypeMask {
	var m TypeMask
	for _, t := range types {
		m |= 1 << t
	}
	return m
}

// Has reports whether t is in the set.
func (m TypeMask) Has(t Type) bool { return m&(1<<t) != 0 }

// OptInTypes are delivered only to subscriptions that name them.
var OptInTypes = MaskOf(Open, Close)

// ControlTypes are stream-control notices; every subscription gets them
// whatever its type filter says, because they concern the stream itself.
var ControlTypes = MaskOf(Overflow, Rescan, Reset, Unmount, DurabilityLost, DurabilityRestored)

// DefaultTypes is what a subscription without a type filter receives:
// every change type and stream control, none of the opt-in types.
var DefaultTypes = AllTypes &^ OptInTypes

// AllTypes holds every type this version knows.
var AllTypes = TypeMask(1)<<numTypes - 2

// ParseTypeList parses a comma-separated list of type names ("" = none).
func ParseTypeList(list string) (TypeMask, error) {
	var m TypeMask
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		t, err := ParseType(s)
		if err != nil {
			return 0, err
		}
		m |= MaskOf(t)
	}
	return m, nil
}
