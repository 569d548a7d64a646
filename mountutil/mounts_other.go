//go:build !linux

package mountutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CheckFuse reports whether a FUSE device is present.
func CheckFuse() error {
	for _, dev := range []string{"/dev/fuse", "/dev/macfuse0", "/dev/osxfuse0"} {
		if _, err := os.Stat(dev); err == nil {
			return nil
		}
	}
	return fmt.Errorf("%w: no FUSE device (install macFUSE, or kldload fusefs on FreeBSD)", ErrNoFuse)
}

// MountInfo is what is known of a mount point.
type MountInfo struct {
	Point  string
	FSType string
	Source string
	// Dev is the mounted filesystem's device, "major:minor" (Linux; ""
	// elsewhere): the same in every mount of one filesystem, in any
	// mount namespace. For FUSE the minor is the connection's number.
	Dev string
}

// Lookup recognises a mount point by its device differing from its
// parent's; the filesystem type is not known here.
func Lookup(p string) (mi MountInfo, ok bool, err error) {
	var st, pst unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return mi, false, err
	}
	if err := unix.Stat(filepath.Dir(p), &pst); err != nil {
		return mi, false, err
	}
	if st.Dev == pst.Dev {
		return mi, false, nil
	}
	return MountInfo{Point: p}, true, nil
}

// IsStale reports whether p is a FUSE mount whose daemon is gone.
func IsStale(p string) bool {
	var st unix.Stat_t
	err := unix.Stat(p, &st)
	return err == unix.ENOTCONN || err == unix.ENXIO
}

// ErrDetached is returned by Unmount when it had to force a busy mount.
var ErrDetached = errors.New("mountutil: forced while busy")

// Unmount unmounts p, retrying while busy for up to wait; with lazy, a
// still-busy mount is forced off.
func Unmount(p string, wait time.Duration, lazy bool) error {
	deadline := time.Now().Add(wait)
	for {
		err := unix.Unmount(p, 0)
		if err == nil {
			return nil
		}
		if err != unix.EBUSY {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
		if time.Now().After(deadline) {
			if lazy {
				if err := unix.Unmount(p, unix.MNT_FORCE); err != nil {
					return err
				}
				return ErrDetached
			}
			return fmt.Errorf("unmount %s: %w (still in use)", p, syscall.EBUSY)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ClearStale unmounts p if it is a stale mount.
func ClearStale(p string) (bool, error) {
	if !IsStale(p) {
		return false, nil
	}
	if err := unix.Unmount(p, unix.MNT_FORCE); err != nil {
		return false, fmt.Errorf("clear stale mount %s: %w", p, err)
	}
	return true, nil
}
