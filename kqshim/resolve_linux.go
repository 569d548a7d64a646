package kqshim

import (
	"os"

	"golang.org/x/sys/unix"
)

// openBeneath opens rel beneath the directory root without following any
// symlink on the way, so a directory swapped for a symlink while we look
// can never take a watch or a listing outside SOURCE.
func openBeneath(root int, rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	}
	for {
		fd, err := unix.Openat2(root, rel, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		if err == unix.ENOSYS {
			// Before Linux 5.6: the final component at least is not
			// followed.
			return unix.Openat(root, rel, flags|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		}
		return fd, err
	}
}

type dirName struct {
	name string
	dir  bool
}

// readDirNames lists the directory rel beneath root, telling directories
// apart by the entry type (no stat unless the filesystem leaves it out).
func readDirNames(root int, rel string) ([]dirName, error) {
	fd, err := openBeneath(root, rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	ents, err := f.ReadDir(-1)
	out := make([]dirName, 0, len(ents))
	for _, e := range ents {
		out = append(out, dirName{name: e.Name(), dir: e.IsDir()})
	}
	return out, err
}
