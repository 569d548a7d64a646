//go:build darwin || freebsd

package kqshim

import (
	"strings"

	"golang.org/x/sys/unix"
)

// openBeneath opens rel beneath the directory root one component at a
// time, never following a symlink, so that no path can lead outside.
func openBeneath(root int, rel string, flags int) (int, error) {
	cur, err := unix.Openat(root, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil || rel == "" {
		return cur, err
	}
	comps := strings.Split(rel, "/")
	for i, c := range comps {
		f := unix.O_RDONLY | unix.O_DIRECTORY
		if i == len(comps)-1 {
			f = flags
		}
		next, err := unix.Openat(cur, c, f|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(cur)
		if err != nil {
			return -1, err
		}
		cur = next
	}
	return cur, nil
}
