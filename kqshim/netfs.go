package kqshim

// inodesFollowPaths reports whether SOURCE is on a filesystem whose
// inode numbers may name a path rather than an object: FUSE (sshfs
// numbers objects by path, for SFTP carries no inode numbers; other
// FUSE filesystems may too). A rename there changes the number, so the
// scan's diff pairs renames by their attributes as well (diffOf).
func inodesFollowPaths(source string) bool {
	switch networkFS(source) {
	case "fuse", "fusefs", "macfuse", "osxfuse":
		return true
	}
	return false
}
