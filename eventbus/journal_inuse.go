package eventbus

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
)

// JournalInUse reports whether a daemon holds the journal in dir (its
// lock), so that tools that list or prune journals leave a live one
// alone. The lock's name and protocol are the journal's own business,
// hence this accessor rather than a copy of them elsewhere.
func JournalInUse(dir string) (bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, err
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false, nil
}
