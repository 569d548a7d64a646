package subscribers

import "golang.org/x/sys/unix"

// hasACL reports whether the directory carries a POSIX access ACL. An
// error other than "no such attribute" counts as one: the safe answer.
func hasACL(abs string) bool {
	_, err := unix.Lgetxattr(abs, "system.posix_acl_access", nil)
	return err == nil || (err != unix.ENODATA && err != unix.ENOTSUP)
}
