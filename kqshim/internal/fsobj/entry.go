package fsobj

import (
	"sort"
	"strings"
	"syscall"
)

// Entry is what a scan records of one object: enough to tell, by
// comparing two scans, what happened to it.
type Entry struct {
	Ino   uint64
	Dev   uint64 // the device: objects of filesystems mounted beneath SOURCE may share a number
	Birth int64  // birth time (ns) where the OS has it: tells a reused inode number apart
	Mode  uint32
	Size  int64
	Mtime int64
	Ctime int64
	UID   uint32
	GID   uint32
	Nlink uint32
}

// IsDir: the object is a directory.
func (e Entry) IsDir() bool { return e.Mode&syscall.S_IFMT == syscall.S_IFDIR }

// ShallowerFirst orders paths by depth, then by name.
func ShallowerFirst(a, b string) bool {
	da, db := strings.Count(a, "/"), strings.Count(b, "/")
	if da != db {
		return da < db
	}
	return a < b
}

// DeeperFirst orders paths deepest first, then by name.
func DeeperFirst(a, b string) bool {
	da, db := strings.Count(a, "/"), strings.Count(b, "/")
	if da != db {
		return da > db
	}
	return a < b
}

// SortedKeys lists a map's paths (or names) in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
