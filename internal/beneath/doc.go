// Package beneath confines path resolution to one directory tree: the
// one rule that keeps notifyfs from touching anything outside SOURCE,
// shared by the filesystem (fusefs) and the watcher of SOURCE (kqshim).
//
// # What it guarantees
//
// Open resolves a relative path beneath a directory descriptor and
// refuses, anywhere on the way, a symlink, a magic link (/proc/PID/fd/N)
// and "..": a directory of SOURCE swapped for a symlink to "/" mid-walk
// yields ELOOP or EXDEV, never an object outside. Paths longer than the
// kernel takes in one call (PATH_MAX) are resolved in chunks, each one
// confined the same way, so depth is limited by the filesystem, not by
// this package.
//
// # Per-OS
//
// Linux uses openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|
// RESOLVE_NO_MAGICLINKS), retried a bounded number of times on EAGAIN
// (which the kernel returns when a concurrent rename makes it unsure the
// walk stayed beneath). Kernels before 5.6, macOS and FreeBSD walk one
// component at a time with O_NOFOLLOW.
package beneath
