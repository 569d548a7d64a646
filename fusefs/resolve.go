package fusefs

import (
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// walkBeneath opens rel (relative to rootfd) one component at a time,
// refusing to follow a symlink anywhere, so a symlink planted or swapped
// into SOURCE can never lead outside it. It is the portable fallback of
// openBeneath. Names never contain ".." (the kernel does not send them),
// and rel is built from names, so only the no-follow rule is needed.
func walkBeneath(rootfd int, rel string, flags int) (int, error) {
	if rel == "" || rel == "." {
		return unix.Openat(rootfd, ".", flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	}
	dir, base := path.Split(rel)
	cur := rootfd
	for _, comp := range strings.Split(strings.TrimSuffix(dir, "/"), "/") {
		if comp == "" {
			continue
		}
		next, err := unix.Openat(cur, comp, dirSearchFlags|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if cur != rootfd {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur = next
	}
	fd, err := unix.Openat(cur, base, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if cur != rootfd {
		unix.Close(cur)
	}
	return fd, err
}

// splitRel splits a node path into its parent directory and base name.
// The root ("") yields ("", ".").
func splitRel(rel string) (dir, name string) {
	if rel == "" {
		return "", "."
	}
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

// joinRel joins a directory path and a name.
func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
