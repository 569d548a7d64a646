//go:build !linux

// Command uringproto is a Linux-only prototype of FUSE over io_uring; see
// README.md.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "uringproto: Linux only")
	os.Exit(2)
}
