package kqshim

import "fmt"

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

// checkCoverage refuses a kernel backend named for a SOURCE that it
// cannot see completely (a network or FUSE filesystem: the local kernel
// hears nothing of changes made by other machines or on the server),
// unless opts.Force; then it only warns. Quietly accepting it left a
// subscriber believing it saw everything.
func checkCoverage(opts Options, cfg Config) error {
	switch opts.Backend {
	case "fanotify", "inotify", "kqueue":
	default:
		return nil
	}
	fs := networkFS(cfg.Source)
	if fs == "" {
		return nil
	}
	msg := fmt.Sprintf("SOURCE %s is on %s: the %s backend sees only changes made through this machine's kernel, none made by other machines or on the server", cfg.Source, fs, opts.Backend)
	if !opts.Force {
		return fmt.Errorf("%w: %s; use --underneath poll (or auto, which picks it), or --force to use %s anyway", ErrBackend, msg, opts.Backend)
	}
	if cfg.Logf != nil {
		cfg.Logf("underneath: warning: %s (--force)", msg)
	}
	return nil
}

// NetworkFS names the filesystem of path if changes to it can be made
// where this machine's kernel does not see them (NFS, SMB, FUSE, ...),
// "" otherwise.
func NetworkFS(path string) string { return networkFS(path) }
