package fusefs

import "golang.org/x/sys/unix"

// Symbolic times for utimensat.
const (
	utimeNow  = unix.UTIME_NOW
	utimeOmit = unix.UTIME_OMIT
)

// futimens sets the times of an open file.
func futimens(fd int, ts []unix.Timespec) error {
	return unix.UtimesNanoAt(fd, "", ts, unix.AT_EMPTY_PATH)
}
