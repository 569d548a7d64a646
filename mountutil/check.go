package mountutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/notifyfs/notifyfs/internal/relpath"
)

// Sentinel errors, wrapped with the path concerned.
var (
	ErrNotDir  = errors.New("mountutil: not a directory")
	ErrOverlap = errors.New("mountutil: source and mount point overlap")
	ErrNoFuse  = errors.New("mountutil: FUSE is not available")
	ErrStale   = errors.New("mountutil: stale mount")
	ErrNotOurs = errors.New("mountutil: not a notifyfs mount")
)

// CanonicalDir returns the absolute, symlink-free form of an existing
// directory, with an error that names what is wrong with it.
func CanonicalDir(what, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", what, p, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED) {
			return "", fmt.Errorf("%s %q: %w (run: notifyfs umount %s)", what, p, ErrStale, abs)
		}
		return "", fmt.Errorf("%s %q: %w", what, p, unwrapPathError(err))
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", what, p, unwrapPathError(err))
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s %q: %w", what, p, ErrNotDir)
	}
	return real, nil
}

// unwrapPathError drops os.PathError's repetition of the path.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// CheckOverlap refuses a SOURCE and MOUNTPOINT where one contains the
// other: mounting over SOURCE's own subtree would make the mount serve
// itself (a deadlock), and a SOURCE inside the mount is unreachable.
// Both paths must be canonical (see CanonicalDir).
func CheckOverlap(source, mnt string) error {
	if within(source, mnt) || within(mnt, source) {
		return fmt.Errorf("%w: %s and %s", ErrOverlap, source, mnt)
	}
	return nil
}

// within reports whether p is dir or lies beneath it.
func within(p, dir string) bool {
	_, ok := relpath.Rel(dir, p)
	return ok
}
