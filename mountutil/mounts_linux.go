package mountutil

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// CheckFuse reports whether /dev/fuse can be used, with advice when not.
func CheckFuse() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	switch {
	case err == nil:
		f.Close()
		return nil
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: /dev/fuse does not exist (load the module: modprobe fuse; in a container pass --device /dev/fuse)", ErrNoFuse)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("%w: /dev/fuse: permission denied (run as root, or as a user allowed to use FUSE)", ErrNoFuse)
	default:
		return fmt.Errorf("%w: /dev/fuse: %w", ErrNoFuse, unwrapPathError(err))
	}
}

// MountInfo is one line of the mount table.
type MountInfo struct {
	Point  string
	FSType string
	Source string
	// Dev is the mounted filesystem's device, "major:minor" (Linux; ""
	// elsewhere): the same in every mount of one filesystem, in any
	// mount namespace. For FUSE the minor is the connection's number.
	Dev string
}

// Lookup returns the mount table entry whose mount point is p (the last
// one if several are stacked), or ok=false.
func Lookup(p string) (mi MountInfo, ok bool, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mi, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent maj:min root point opts [optional...] - fstype source superopts
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(fields) {
			continue
		}
		if unescapeMount(fields[4]) == p {
			mi = MountInfo{Point: p, FSType: fields[sep+1], Source: unescapeMount(fields[sep+2]), Dev: fields[2]}
			ok = true
		}
	}
	return mi, ok, sc.Err()
}

// unescapeMount undoes the kernel's octal escapes (\040 for space...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			v := 0
			okOct := true
			for _, c := range s[i+1 : i+4] {
				if c < '0' || c > '7' {
					okOct = false
					break
				}
				v = v*8 + int(c-'0')
			}
			if okOct {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// IsStale reports whether p is a FUSE mount whose daemon is gone. It
// asks statfs, which always reaches the filesystem: stat may be answered
// from the kernel's attribute cache even after the daemon died.
func IsStale(p string) bool {
	var st unix.Statfs_t
	err := unix.Statfs(p, &st)
	return err == unix.ENOTCONN || err == unix.ECONNABORTED
}

// ErrDetached is returned by Unmount when it had to detach a busy mount
// (lazy): the mount point is free, but the filesystem lives on until its
// last user leaves.
var ErrDetached = errors.New("mountutil: detached while busy")

// Unmount unmounts p, retrying while it is busy (a process still has a
// file open or its cwd there) for up to wait, then failing with EBUSY
// unless lazy is set, in which case the mount is detached: it vanishes
// from the namespace now and is torn down when the last user leaves
// (the error is then ErrDetached).
func Unmount(p string, wait time.Duration, lazy bool) error {
	deadline := time.Now().Add(wait)
	delay := 10 * time.Millisecond
	for {
		err := unix.Unmount(p, 0)
		if err == nil {
			return nil
		}
		if err == unix.EINVAL {
			return fmt.Errorf("unmount %s: not a mount point", p)
		}
		if err != unix.EBUSY {
			return fmt.Errorf("unmount %s: %w", p, err)
		}
		if time.Now().After(deadline) {
			if lazy {
				if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
					return fmt.Errorf("unmount %s (lazy): %w", p, err)
				}
				return ErrDetached
			}
			return fmt.Errorf("unmount %s: %w (still in use; close the files and leave the directory, or use --lazy)", p, syscall.EBUSY)
		}
		time.Sleep(delay)
		delay = min(delay*2, 200*time.Millisecond)
	}
}

// ClearStale unmounts p if it is a stale mount. It reports whether it
// did.
func ClearStale(p string) (bool, error) {
	if !IsStale(p) {
		return false, nil
	}
	if err := unix.Unmount(p, 0); err != nil {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			return false, fmt.Errorf("clear stale mount %s: %w", p, err)
		}
	}
	return true, nil
}
