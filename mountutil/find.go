package mountutil

import (
	"os"
	"path/filepath"
)

// NoSocketError says that no daemon advertises a socket for Path (and,
// from FindMount, for no directory above it either). Its message is
// meant for users, who typed a path, not a socket.
type NoSocketError struct {
	Path     string
	Expected string // the socket path looked for; "" from FindMount
}

func (e *NoSocketError) Error() string {
	if e.Expected == "" {
		return e.Path + " is not inside a notifyfs mount (no daemon serves it or any directory above it)"
	}
	return "no notifyfs socket for " + e.Path + " (is it mounted? expected " + e.Expected + ")"
}

// FindMount returns the notifyfs mount that holds p: the nearest
// directory, from p (or its directory, if p is not one) up to /, whose
// socket is advertised in the runtime directory, with that socket. It
// lets a command run anywhere inside a mount (git runs its fsmonitor
// hook in the worktree, a user types `notifyfs watch .`), not only at
// its root. mnt is canonical (symlinks resolved), as the daemon
// advertised it.
func FindMount(p string) (mnt, socket string, err error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	for dir := abs; ; dir = filepath.Dir(dir) {
		s := SocketPath(dir)
		if _, err := os.Stat(s); err == nil {
			return dir, s, nil
		}
		if dir == "/" {
			break
		}
	}
	return "", "", &NoSocketError{Path: abs}
}
