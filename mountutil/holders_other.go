//go:build !linux

package mountutil

import "errors"

// HeldElsewhere finds nothing outside Linux: there are no mount
// namespaces to hold a mount.
func HeldElsewhere(dev string) ([]string, error) { return nil, nil }

// Abort is not available outside Linux.
func Abort(dev string) error { return errors.New("abort: no FUSE control filesystem here") }
