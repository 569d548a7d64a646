package kqueue

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// openMode: O_EVTONLY asks for notes only; such a descriptor does not
// keep the volume from unmounting.
const openMode = unix.O_EVTONLY

// pathOf asks the kernel for the path of fd's vnode now (F_GETPATH);
// "" if it cannot tell.
func pathOf(fd int) string {
	// F_GETPATH fills a MAXPATHLEN buffer. x/sys/unix passes a pointer
	// argument to fcntl only through its typed helpers, so the buffer
	// (8-byte aligned, as Fstore_t wants) goes through FcntlFstore.
	buf := make([]uint64, unix.PathMax/8)
	if err := unix.FcntlFstore(uintptr(fd), unix.F_GETPATH, (*unix.Fstore_t)(unsafe.Pointer(&buf[0]))); err != nil {
		return ""
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), unix.PathMax)
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return ""
}
