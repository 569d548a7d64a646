//go:build !linux

package fusefs

import (
	"context"
	"syscall"
)

// identities: on macOS and FreeBSD there is no per-thread identity to
// switch to, so operations run as the daemon. Mount without allow_other
// there (only the mounting user then reaches the mount), or with
// default_permissions.
type identities struct {
	enabled bool
	status  noStatuses
}

func newIdentities() (*identities, error) { return &identities{}, nil }

func (id *identities) of(ctx context.Context) (creds, syscall.Errno) { return creds{}, 0 }

func (id *identities) run(c *creds, fn func() error) error { return fn() }

// noStatuses: there is no /proc to keep descriptors of.
type noStatuses struct{}

func (noStatuses) Close() {}

// killPrivCapability: the kernel keeps clearing set-id bits itself.
const killPrivCapability = 0
