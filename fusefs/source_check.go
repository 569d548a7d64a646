package fusefs

import (
	"fmt"
	"syscall"
	"time"
)

// sourceCheckInterval is how often SOURCE's identity is checked.
const sourceCheckInterval = time.Second

// SetMountPoint tells the filesystem where it is mounted, once it is: the
// mount's own device number lets it refuse objects of this very mount
// reached through SOURCE (a bind mount of an ancestor of the mount point
// placed inside SOURCE would otherwise make the daemon wait on itself).
func (f *FS) SetMountPoint(mnt string) error {
	var st syscall.Stat_t
	if err := syscall.Stat(mnt, &st); err != nil {
		return err
	}
	f.mountDev.Store(uint64(st.Dev))
	return nil
}

// isOwnMount reports whether st describes an object of this mount.
func (f *FS) isOwnMount(st *syscall.Stat_t) bool {
	dev := f.mountDev.Load()
	return dev != 0 && uint64(st.Dev) == dev
}

// SourceLost is closed when SOURCE is no longer the directory the mount
// was made of: removed, replaced by another directory of the same name,
// or unmounted from under the mount. Operations then fail with ENOTCONN
// and the daemon should unmount (LostReason says why).
func (f *FS) SourceLost() <-chan struct{} { return f.lost }

// LostReason says why SourceLost was closed ("" while SOURCE is fine).
func (f *FS) LostReason() string {
	if r := f.lostReason.Load(); r != nil {
		return *r
	}
	return ""
}

// checkSource compares SOURCE as the daemon holds it (its root fd) with
// what its path names now.
func (f *FS) checkSource() string {
	var held, named syscall.Stat_t
	if err := syscall.Fstat(f.rootfd, &held); err != nil {
		return fmt.Sprintf("SOURCE %s cannot be reached: %v", f.source, err)
	}
	if held.Nlink == 0 {
		return fmt.Sprintf("SOURCE %s was removed", f.source)
	}
	if err := syscall.Lstat(f.source, &named); err != nil {
		return fmt.Sprintf("SOURCE %s is gone: %v", f.source, err)
	}
	if named.Dev != held.Dev || named.Ino != held.Ino {
		return fmt.Sprintf("SOURCE %s is no longer the directory that was mounted (replaced, or a filesystem unmounted from under it)", f.source)
	}
	return ""
}

// watchSource checks SOURCE's identity until the filesystem closes or
// SOURCE is lost.
func (f *FS) watchSource() {
	f.every(sourceCheckInterval, func() bool {
		why := f.checkSource()
		if why == "" {
			return true
		}
		f.lostReason.Store(&why)
		close(f.lost)
		return false
	})
}
