//go:build darwin || freebsd

package kqshim

import "golang.org/x/sys/unix"

// networkFS names the filesystem of path if it is one whose changes can
// be made by other machines, which the local kernel's notes miss ("" if
// not).
func networkFS(path string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return ""
	}
	name := unix.ByteSliceToString(st.Fstypename[:])
	switch name {
	case "nfs", "smbfs", "afpfs", "webdav", "fusefs", "macfuse", "osxfuse", "p9fs":
		return name
	}
	return ""
}
