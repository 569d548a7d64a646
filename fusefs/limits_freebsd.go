package fusefs

import "syscall"

// setRlimit: Rlimit's fields are signed on FreeBSD.
func setRlimit(lim *syscall.Rlimit, cur, max uint64) {
	const most = 1<<63 - 1
	lim.Cur, lim.Max = int64(min(cur, most)), int64(min(max, most))
}
