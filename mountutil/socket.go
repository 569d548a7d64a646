package mountutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// RuntimeDir is where notifyfs keeps sockets and logs of this user's
// mounts: /run/notifyfs for root, $XDG_RUNTIME_DIR/notifyfs, or
// /tmp/notifyfs-UID.
func RuntimeDir() string {
	if os.Geteuid() == 0 {
		return "/run/notifyfs"
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "notifyfs")
	}
	return filepath.Join(os.TempDir(), "notifyfs-"+strconv.Itoa(os.Geteuid()))
}

// mountKey names a mount point's files in the runtime directory. A hash
// keeps socket paths short whatever the mount point (sun_path holds
// 108 bytes).
func mountKey(mnt string) string {
	sum := sha256.Sum256([]byte(mnt))
	return hex.EncodeToString(sum[:8])
}

// SocketPath is the well-known socket path of the mount at mnt (an
// absolute, canonical path).
func SocketPath(mnt string) string {
	return filepath.Join(RuntimeDir(), mountKey(mnt)+".sock")
}

// LogPath is where a background daemon for mnt writes its log.
func LogPath(mnt string) string {
	return filepath.Join(RuntimeDir(), mountKey(mnt)+".log")
}

// runtimeDirMode lets others pass through the runtime directory but not
// list it: a socket opened to a group (--socket-mode 0660 --socket-group
// G) must be reachable by the group's members, whose access the socket's
// own mode and the daemon's peer check then decide; 0700 made the
// documented example fail. Logs in it are created 0600.
const runtimeDirMode = 0o711

// EnsureRuntimeDir creates the runtime directory (0711), and refuses
// one that another user owns or others can write, where anyone could
// plant or replace a mount's socket.
func EnsureRuntimeDir() error {
	d := RuntimeDir()
	if err := os.MkdirAll(d, runtimeDirMode); err != nil {
		return fmt.Errorf("runtime directory: %w", err)
	}
	fi, err := os.Lstat(d)
	if err != nil {
		return fmt.Errorf("runtime directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("runtime directory %s is not a directory", d)
	case ok && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("runtime directory %s is owned by uid %d, not by you (uid %d); remove it or set XDG_RUNTIME_DIR", d, st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("runtime directory %s is writable by others (mode %04o); run chmod go-w %s", d, fi.Mode().Perm(), d)
	case fi.Mode().Perm() == 0o700:
		// Made by an earlier version: open it for the socket-group case.
		if err := os.Chmod(d, runtimeDirMode); err != nil {
			return fmt.Errorf("runtime directory: %w", err)
		}
	}
	return nil
}

// Advertise makes the well-known path of mnt lead to a socket placed
// elsewhere (--socket), by a symlink. It returns a function that removes
// the symlink again if it still points at socket.
func Advertise(mnt, socket string) (func(), error) {
	wk := SocketPath(mnt)
	if wk == socket {
		return func() {}, nil
	}
	if err := EnsureRuntimeDir(); err != nil {
		return nil, err
	}
	os.Remove(wk)
	if err := os.Symlink(socket, wk); err != nil {
		return nil, fmt.Errorf("advertise socket: %w", err)
	}
	return func() {
		if t, err := os.Readlink(wk); err == nil && t == socket {
			os.Remove(wk)
		}
	}, nil
}

// FindSocket returns the socket of the mount at mnt (given as the user
// typed it).
func FindSocket(mnt string) (string, error) {
	abs, err := filepath.Abs(mnt)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	p := SocketPath(abs)
	if _, err := os.Stat(p); err != nil {
		return "", &NoSocketError{Path: abs, Expected: p}
	}
	return p, nil
}

// StateDir is where notifyfs keeps journals: /var/lib/notifyfs for root,
// $XDG_STATE_HOME/notifyfs or ~/.local/state/notifyfs otherwise.
func StateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/notifyfs"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "notifyfs")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "notifyfs")
	}
	return filepath.Join(os.TempDir(), "notifyfs-state-"+strconv.Itoa(os.Geteuid()))
}

// JournalDir is the default journal of the mount of source at mnt (both
// canonical): one per pair, so that remounting the same tree at the same
// place resumes its stream, and nothing else shares it.
func JournalDir(source, mnt string) string {
	return filepath.Join(StateDir(), "journal-"+mountKey(source+"\x00"+mnt))
}
