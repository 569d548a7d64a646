// Package tests holds the notifyfs integration tests and benchmarks:
// they mount real FUSE filesystems in t.TempDir(), talk to the real
// socket, and run the built binary. Every mount is unmounted in
// t.Cleanup, also when a test fails.
//
// # Per-OS
//
// Linux only: every test file carries `//go:build linux` (they mount
// with Linux's FUSE and use its system calls: openat2, renameat2,
// fallocate, pidfds, fanotify), and a new one must carry it too, so that
// `GOOS=darwin go vet ./...` stays clean. On macOS and FreeBSD the
// package is this file alone.
//
// # Skipping
//
// Tests that need FUSE (root and /dev/fuse) skip when it is missing;
// with NOTIFYFS_TEST_DISALLOW_SKIP=1 (set by CI) they fail instead.
//
// # Synchronisation
//
// No test sleeps to wait: operations on the mount publish their event
// before returning, so the bus's current seq (or a sync on the socket)
// taken after an operation covers it. Events that come after the
// syscall returns (close_write, at RELEASE) are awaited on the stream
// with a deadline.
package tests
