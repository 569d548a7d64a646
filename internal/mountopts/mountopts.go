// Package mountopts turns mount(8)'s option strings (`-o ro,journal=/x`,
// an fstab line's fourth field) into the command's own flags, so that
// `mount -t fuse.notifyfs SOURCE MOUNTPOINT -o OPTS` and fstab work by
// the mount.fuse convention: the helper runs `notifyfs SOURCE MOUNTPOINT
// -o OPTS`.
//
// # Spelling
//
// Every flag of the flag set has an -o spelling: its long name, with
// "-" or "_" alike (write_interval=1s, allow_other); a boolean flag
// alone means true. A value that holds a comma escapes it as "\,".
//
// # Standard options
//
// "ro" makes the mount read-only (--read-only). Options that are
// mount(8)'s, systemd's or the kernel's own concern are accepted and
// ignored, as mount.fuse does: rw, defaults, auto, noauto, user, nouser,
// users, owner, group, _netdev, nofail, dev, nodev, suid, nosuid, exec,
// noexec, the atime family, sync, async, silent, loud, x-* (x-systemd.*),
// comment=, fsname=, subtype=. (A FUSE mount is always nosuid and nodev.)
package mountopts

import (
	"fmt"
	"slices"
	"strings"
)

// ignored are the standard options that need nothing from notifyfs.
var ignored = map[string]bool{
	"rw": true, "defaults": true, "auto": true, "noauto": true, "user": true, "nouser": true,
	"users": true, "owner": true, "group": true, "_netdev": true, "nofail": true,
	"dev": true, "nodev": true, "suid": true, "nosuid": true, "exec": true, "noexec": true,
	"atime": true, "noatime": true, "diratime": true, "nodiratime": true, "relatime": true,
	"norelatime": true, "strictatime": true, "nostrictatime": true, "lazytime": true,
	"nolazytime": true, "sync": true, "async": true, "silent": true, "loud": true,
}

// ignoredPrefixes are option families ignored whatever their value.
var ignoredPrefixes = []string{"x-", "comment=", "fsname=", "subtype="}

// Split splits an option string at the commas not escaped as "\,".
func Split(opts string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(opts); i++ {
		switch {
		case opts[i] == '\\' && i+1 < len(opts) && opts[i+1] == ',':
			cur.WriteByte(',')
			i++
		case opts[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(opts[i])
		}
	}
	return append(out, cur.String())
}

// Translate turns options into command-line flags ("--name=value", or
// "--name" for an option without a value, which must then be a boolean
// flag): the command's own flag parsing checks them as it checks flags
// typed by hand. Options named in internal (flags that are no user's
// business) are refused.
func Translate(opts []string, internal ...string) ([]string, error) {
	var args []string
	for _, o := range opts {
		if o == "" || ignored[o] || hasAnyPrefix(o, ignoredPrefixes) {
			continue
		}
		if o == "ro" {
			o = "read-only"
		}
		name, value, hasValue := strings.Cut(o, "=")
		name = strings.ReplaceAll(name, "_", "-")
		if name == "" || strings.HasPrefix(name, "-") || slices.Contains(internal, name) {
			return nil, fmt.Errorf("unknown mount option %q", o)
		}
		if hasValue {
			args = append(args, "--"+name+"="+value)
		} else {
			args = append(args, "--"+name)
		}
	}
	return args, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
