//go:build !linux

package fusefs

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// unix.Stat_t and syscall.Stat_t are generated from the same C struct on
// darwin and freebsd; these fail to compile if that ever changes.
var (
	_ [unsafe.Sizeof(unix.Stat_t{}) - unsafe.Sizeof(syscall.Stat_t{})]byte
	_ [unsafe.Sizeof(syscall.Stat_t{}) - unsafe.Sizeof(unix.Stat_t{})]byte
)

// statAt stats name in dirfd without following a final symlink ("" stats
// dirfd itself). These systems have no cheap birth time here; gen is 1.
func statAt(dirfd int, name string, st *syscall.Stat_t) (gen uint64, err error) {
	var ust unix.Stat_t
	if name == "" {
		err = unix.Fstat(dirfd, &ust)
	} else {
		err = unix.Fstatat(dirfd, name, &ust, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err != nil {
		return 0, err
	}
	*st = *(*syscall.Stat_t)(unsafe.Pointer(&ust))
	return 1, nil
}
