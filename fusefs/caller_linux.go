package fusefs

import (
	"bytes"
	"os"
	"strconv"
)

// resolveThread maps a thread id to its thread group (the process) and
// the process's command name, from /proc. A thread that is already gone
// is reported as itself with no name.
func resolveThread(tid uint32) (pid uint32, comm string) {
	status, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(tid), 10) + "/status")
	if err != nil {
		return tid, ""
	}
	pid = tid
	for _, line := range bytes.Split(status, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("Name:\t")); ok {
			comm = string(v)
		} else if v, ok := bytes.CutPrefix(line, []byte("Tgid:\t")); ok {
			if n, err := strconv.ParseUint(string(v), 10, 32); err == nil {
				pid = uint32(n)
			}
			break // Tgid comes after Name
		}
	}
	if pid != tid {
		// Name: is the thread's own name; the process's is the main
		// thread's.
		if b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/comm"); err == nil {
			comm = string(bytes.TrimRight(b, "\n"))
		}
	}
	return pid, comm
}
