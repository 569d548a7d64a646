//go:build !linux

package fusefs

import "golang.org/x/sys/unix"

// dirSearchFlags opens intermediate directories only to search them.
const dirSearchFlags = unix.O_RDONLY

func openBeneath(rootfd int, rel string, flags int) (int, error) {
	return walkBeneath(rootfd, rel, flags)
}
