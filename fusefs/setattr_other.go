//go:build !linux

package fusefs

import (
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Symbolic times for utimensat (the same values on darwin and freebsd).
const (
	utimeNow  = -1
	utimeOmit = -2
)

// futimens sets the times of an open file (microsecond precision, the
// best the portable call offers; UTIME_NOW/OMIT resolved here).
func futimens(fd int, ts []unix.Timespec) error {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return err
	}
	tv := make([]unix.Timeval, 2)
	for i, t := range ts {
		switch t.Nsec {
		case utimeNow:
			tv[i] = unix.NsecToTimeval(time.Now().UnixNano())
		case utimeOmit:
			if i == 0 {
				tv[i] = unix.NsecToTimeval(atimeOf(&st))
			} else {
				tv[i] = unix.NsecToTimeval(mtimeOf(&st))
			}
		default:
			tv[i] = unix.NsecToTimeval(unix.TimespecToNsec(t))
		}
	}
	return unix.Futimes(fd, tv)
}
