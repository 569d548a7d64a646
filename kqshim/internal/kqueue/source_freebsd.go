package kqueue

import "golang.org/x/sys/unix"

// openMode: EVFILT_VNODE needs a descriptor of the vnode itself; O_PATH
// descriptors are not accepted by every release, so a plain read-only
// open it is (a file that cannot be read cannot be watched).
const openMode = unix.O_RDONLY

// pathOf: FreeBSD has no F_GETPATH; a moved object is found by the
// listing of the directory it went to.
func pathOf(fd int) string { return "" }
