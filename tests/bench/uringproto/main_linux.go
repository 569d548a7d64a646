//go:build linux

// Command uringproto is a prototype FUSE server that serves the same
// requests over the classic read(2)/write(2) transport on /dev/fuse and
// over FUSE-over-io_uring, and a driver that compares the two on a
// create/stat loop. See README.md.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serveMain(os.Args[2:])
	case "bench":
		err = benchMain(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "uringproto:", err)
		cleanupAll()
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: uringproto bench [flags]   (as root; see -h)\n       uringproto serve -mnt DIR [-transport classic|uring] [flags]")
	os.Exit(2)
}
