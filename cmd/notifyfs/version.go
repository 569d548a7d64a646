package main

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/buildinfo"
)

// runVersion prints what the binary was built from and, for a mount
// given, the FUSE protocol its kernel offered (the kernel tells it only
// when something is mounted).
func runVersion(args []string) error {
	set := newFlagSet("version", "[MOUNTPOINT]")
	if err := set.Parse(args); err != nil {
		_, err := parse(set, args)
		return err
	}
	if set.NArg() > 1 {
		return usagef("version: want at most one MOUNTPOINT")
	}
	in := buildinfo.Read()
	fmt.Printf("notifyfs  %s\ngo        %s\ngo-fuse   %s\n", in.Version, in.Go, in.GoFuse)
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		fmt.Printf("kernel    %s %s\n", unix.ByteSliceToString(u.Sysname[:]), unix.ByteSliceToString(u.Release[:]))
	}
	if set.NArg() == 0 {
		fmt.Println("fuse      protocol: notifyfs version MOUNTPOINT shows the kernel's (it is told at mount time)")
		return nil
	}
	st, hello, err := fetchStatus(set.Arg(0), "")
	if err != nil {
		return err
	}
	fmt.Printf("fuse      protocol %v (the kernel's, at %s; daemon pid %d)\n", st["fuse_protocol"], hello.Mount, hello.Pid)
	return nil
}
