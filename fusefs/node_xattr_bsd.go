//go:build darwin || freebsd

// On FreeBSD, x/sys maps "user." names onto its extattr namespaces.

package fusefs

import "golang.org/x/sys/unix"

func (p pinned) getxattr(attr string, dest []byte) (int, error) {
	return unix.Fgetxattr(p.fd, attr, dest)
}

func (p pinned) listxattr(dest []byte) (int, error) {
	return unix.Flistxattr(p.fd, dest)
}

func (p pinned) setxattr(attr string, data []byte, flags int) error {
	return unix.Fsetxattr(p.fd, attr, data, flags)
}

func (p pinned) removexattr(attr string) error {
	return unix.Fremovexattr(p.fd, attr)
}
