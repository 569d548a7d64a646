package subscribers

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrInUse is returned by Listen when another process answers on the
// socket path.
var ErrInUse = errors.New("subscribers: socket already in use")

// checkPathLen refuses a path the kernel cannot bind, with a message
// that says why instead of the bare EINVAL bind would give.
func checkPathLen(path string) error {
	if len(path) >= sunPathMax {
		return fmt.Errorf("subscribers: socket path %q is %d bytes; a Unix socket address holds at most %d (sun_path): choose a shorter --socket", path, len(path), sunPathMax-1)
	}
	return nil
}

// removeStale clears the way for a new socket at path. It removes the
// file only if it is a socket that nobody answers on: a live socket is
// another daemon's, and anything else is not ours to delete.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("subscribers: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("subscribers: %s exists and is not a socket; refusing to replace it", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: %s (is another notifyfs serving this mount?)", ErrInUse, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		// EAGAIN (a full backlog), EACCES, ...: it may well be alive.
		return fmt.Errorf("subscribers: cannot tell whether %s is in use: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("subscribers: removing stale socket: %w", err)
	}
	return nil
}

// createSocket binds a listening socket at path with the given mode and
// group, never exposing it with looser permissions than asked for and
// never replacing a file that appeared meanwhile.
//
// The umask cannot be used to get the mode right at bind time: it is
// process-wide, and the filesystem goroutines create files concurrently.
// Instead the socket is bound inside a fresh 0700 directory next to path,
// given its mode and group there, and hard-linked into place: link(2)
// fails if path exists, so a daemon that raced us is never clobbered.
func createSocket(path string, mode os.FileMode, gid int) (*net.UnixListener, error) {
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".nfs")
	if err != nil {
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	if len(tmp) >= sunPathMax {
		// The detour does not fit in sun_path although path does. Bind
		// in place: bind also refuses an existing file, and the moment
		// before chmod is covered by the peer check every connection
		// goes through.
		return bindSocket(path, mode, gid)
	}
	ln, err := bindSocket(tmp, mode, gid)
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		ln.Close()
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s appeared while starting up", ErrInUse, path)
		}
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	return ln, nil
}

func bindSocket(path string, mode os.FileMode, gid int) (*net.UnixListener, error) {
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: %s appeared while starting up", ErrInUse, path)
		}
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	// The server removes the socket itself, and only if it is still the
	// one it made (see Server.removeSocket).
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, error) {
		ln.Close()
		os.Remove(path)
		return nil, fmt.Errorf("subscribers: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		return fail(err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			return fail(fmt.Errorf("giving the socket to group %d: %w", gid, err))
		}
	}
	return ln, nil
}
