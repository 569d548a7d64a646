package beneath

import (
	"errors"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrEscape is returned for a path that is not a plain relative path
// (absolute, or with a ".." component).
var ErrEscape = errors.New("beneath: path leaves its directory")

// maxChunk is the longest path handed to the kernel in one call: PATH_MAX
// counts the terminating NUL.
const maxChunk = 4095

// Open opens rel beneath dirfd with flags (O_CLOEXEC and O_NOFOLLOW are
// always added). "" and "." open dirfd's directory itself.
func Open(dirfd int, rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	if err := check(rel); err != nil {
		return -1, err
	}
	if len(rel) <= maxChunk {
		return open(dirfd, rel, flags)
	}
	// Too long for one call: open the leading directories a chunk at a
	// time, each chunk confined beneath the previous one.
	cur := dirfd
	defer func() {
		if cur != dirfd {
			unix.Close(cur)
		}
	}()
	for len(rel) > maxChunk {
		cut := strings.LastIndexByte(rel[:maxChunk], '/')
		if cut <= 0 {
			return -1, unix.ENAMETOOLONG // one name longer than PATH_MAX
		}
		next, err := open(cur, rel[:cut], DirFlags)
		if err != nil {
			return -1, err
		}
		if cur != dirfd {
			unix.Close(cur)
		}
		cur, rel = next, rel[cut+1:]
	}
	return open(cur, rel, flags)
}

// OpenDir opens the directory rel beneath dirfd for use as the dirfd of
// *at() calls (search only: it cannot be read).
func OpenDir(dirfd int, rel string) (int, error) {
	return Open(dirfd, rel, DirFlags)
}

// Split splits a relative path into its directory and last name; a path
// with no slash has directory "" (dirfd's own directory).
func Split(rel string) (dir, name string) {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "", rel
	}
	return rel[:i], rel[i+1:]
}

// check refuses what is not a plain relative path.
func check(rel string) error {
	if strings.HasPrefix(rel, "/") {
		return ErrEscape
	}
	for _, c := range strings.Split(rel, "/") {
		if c == ".." {
			return ErrEscape
		}
	}
	return nil
}

// walk opens rel one component at a time, refusing to follow a symlink
// anywhere: the portable resolver, and Linux's before openat2.
func walk(dirfd int, rel string, flags int) (int, error) {
	dir, base := Split(rel)
	cur := dirfd
	for _, comp := range strings.Split(dir, "/") {
		if comp == "" || comp == "." {
			continue
		}
		next, err := unix.Openat(cur, comp, DirFlags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if cur != dirfd {
			unix.Close(cur)
		}
		if err != nil {
			return -1, err
		}
		cur = next
	}
	fd, err := unix.Openat(cur, base, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if cur != dirfd {
		unix.Close(cur)
	}
	return fd, err
}
