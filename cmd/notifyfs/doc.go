// Command notifyfs mounts a mirror of a directory tree with FUSE and
// streams a typed, attributed event for every change made through it.
// See docs/design.md §5 and README.md for the command line contract.
//
// The command owns the command line only: flags (registered from each
// package's options struct), the ready handshake of a background mount
// (the parent re-runs itself in the foreground and waits on a pipe), and
// signals. Everything a running daemon does is internal/daemon's.
package main
