package fusefs

import (
	"context"
	"syscall"
)

// creds is the identity an operation acts with on SOURCE: the caller's.
// Every system call an operation makes on SOURCE runs with the caller's
// fsuid, fsgid, supplementary groups and effective capabilities, set on
// the calling OS thread for just that call (creds_linux.go), so that
// SOURCE's own permission checks decide, atomically, on the object really
// there — and objects are born the caller's. A caller with every
// capability the daemon has, as root, needs no switch.
type creds struct {
	uid, gid uint32
	groups   []int
	capEff   uint64
	// switched: the thread must take the caller's identity; false when
	// the daemon already is the caller (same ids, every capability), or
	// cannot switch (it is not root, so only its own user reaches it).
	switched bool
}

// privileged reports whether the caller acts with the daemon's own
// powers; such a caller may use descriptors the daemon pinned without
// having each ancestor's search permission checked again.
func (c *creds) privileged() bool { return !c.switched }

// caller returns the creds of the request carried by ctx. An error means
// the caller's identity could not be established; the operation is then
// refused rather than run with more rights than the caller has.
func (f *FS) caller(ctx context.Context) (creds, syscall.Errno) {
	if ctx.Value(daemonRightsKey{}) != nil {
		return creds{}, 0
	}
	return f.ids.of(ctx)
}

type daemonRightsKey struct{}

// asDaemon returns ctx (whose caller still authors the events) for an
// operation carried out with the daemon's own rights — only where the
// caller is entitled to the result natively by a route the mount cannot
// take for it (Removexattr's killpriv).
func asDaemon(ctx context.Context) context.Context {
	return context.WithValue(ctx, daemonRightsKey{}, true)
}
