package main

import (
	"strings"

	"github.com/notifyfs/notifyfs/internal/mountopts"
)

// runFstab is the mount.fuse calling convention, used by `mount -t
// fuse.notifyfs` and fstab: `notifyfs SOURCE MOUNTPOINT -o OPTS`, each
// option a mount flag (internal/mountopts). Like `notifyfs mount`, it
// returns once the mount is ready.
func runFstab(args []string) error {
	var pos, opts, flags []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-o":
			if i+1 == len(args) {
				return usagef("-o wants an option list")
			}
			opts = append(opts, mountopts.Split(args[i+1])...)
			i++
		case strings.HasPrefix(a, "-o"):
			opts = append(opts, mountopts.Split(a[2:])...)
		case a == "-n" || a == "-s" || a == "-v":
			// mount(8)'s helper flags (no mtab, sloppy, verbose): the
			// kernel's mount table is the only one notifyfs uses.
		case a == "-f":
			flags = append(flags, "--foreground")
		case strings.HasPrefix(a, "-"):
			return usagef("unknown flag %q (usage: notifyfs SOURCE MOUNTPOINT -o OPTIONS)", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return usagef("want SOURCE MOUNTPOINT, got %d argument(s) (usage: notifyfs SOURCE MOUNTPOINT -o OPTIONS)", len(pos))
	}
	translated, err := mountopts.Translate(opts, "ready-fd")
	if err != nil {
		return usagef("%v", err)
	}
	return runMount(append(append(flags, translated...), "--", pos[0], pos[1]))
}
