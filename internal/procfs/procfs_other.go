//go:build !linux

package procfs

import "errors"

// ErrUnsupported is returned on systems without Linux's /proc.
var ErrUnsupported = errors.New("procfs: not supported on this system")
