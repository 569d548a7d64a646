// Package buildinfo describes the running binary for `notifyfs
// version`: its own version (the module version, or the VCS revision of
// a build from a checkout), the Go toolchain, and the go-fuse version it
// was built with, all read from the binary's embedded build information.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Info is what the binary knows about itself.
type Info struct {
	Version string // "v1.2.3", a VCS revision, or "(devel)"
	Go      string // "go1.26.8 linux/amd64"
	GoFuse  string // the go-fuse module version, "v2.12.1"
}

// Read returns the binary's Info.
func Read() Info {
	in := Info{Version: "(devel)", Go: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, GoFuse: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return in
	}
	if v := bi.Main.Version; v != "" {
		in.Version = v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if in.Version == "(devel)" && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		in.Version = "(devel) " + rev + dirty
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/hanwen/go-fuse/v2" {
			in.GoFuse = d.Version
			if d.Replace != nil {
				in.GoFuse = d.Replace.Version + " (replaced)"
			}
		}
	}
	return in
}
