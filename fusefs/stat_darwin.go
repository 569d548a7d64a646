package fusefs

import "syscall"

// mtimeOf returns a stat's modification time in nanoseconds.
func mtimeOf(st *syscall.Stat_t) int64 { return st.Mtimespec.Nano() }

// atimeOf returns a stat's access time in nanoseconds.
func atimeOf(st *syscall.Stat_t) int64 { return st.Atimespec.Nano() }
