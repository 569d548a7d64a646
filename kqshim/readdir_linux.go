package kqshim

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/beneath"
)

type dirName struct {
	name string
	dir  bool
}

// readDirNames lists the directory rel beneath root, telling directories
// apart by the entry type (no stat unless the filesystem leaves it out).
func readDirNames(root int, rel string) ([]dirName, error) {
	fd, err := beneath.Open(root, rel, unix.O_RDONLY|unix.O_DIRECTORY)
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
