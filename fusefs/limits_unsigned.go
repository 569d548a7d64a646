//go:build linux || darwin

package fusefs

import "syscall"

func setRlimit(lim *syscall.Rlimit, cur, max uint64) { lim.Cur, lim.Max = cur, max }
