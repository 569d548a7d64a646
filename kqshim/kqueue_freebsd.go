package kqshim

import "golang.org/x/sys/unix"

// kqOpenMode: EVFILT_VNODE needs a descriptor of the vnode itself; O_PATH
// descriptors are not accepted by every release, so a plain read-only
// open it is (a file that cannot be read cannot be watched).
const kqOpenMode = unix.O_RDONLY

// kqPathOf: FreeBSD has no F_GETPATH; a moved object is found by the
// listing of the directory it went to.
func kqPathOf(fd int) string { return "" }
