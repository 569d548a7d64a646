package fusefs

import (
	"bytes"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// resolveThread maps a thread id to its thread group (the process), from
// /proc. A thread that is already gone is reported as itself.
func resolveThread(tid uint32) (pid uint32) {
	status, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(tid), 10) + "/status")
	if err != nil {
		return tid
	}
	for _, line := range bytes.Split(status, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("Tgid:\t")); ok {
			if n, err := strconv.ParseUint(string(v), 10, 32); err == nil {
				return uint32(n)
			}
			break
		}
	}
	return tid
}

// procNames reads processes' command names through descriptors of
// /proc/PID/comm kept open: a descriptor stays bound to its process, so
// a recycled pid can never make it read another process's name (reads
// fail once the process is gone).
type procNames struct {
	mu  sync.Mutex
	fds map[uint32]int
	// last name read per pid, for a process that has exited since.
	last map[uint32]string
}

const maxProcNames = 512

func (p *procNames) of(pid uint32) string {
	p.mu.Lock()
	fd, ok := p.fds[pid]
	if !ok {
		if p.fds == nil || len(p.fds) >= maxProcNames {
			p.closeLocked()
			p.fds, p.last = make(map[uint32]int), make(map[uint32]string)
		}
		var err error
		fd, err = unix.Open("/proc/"+strconv.FormatUint(uint64(pid), 10)+"/comm", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			fd = -1
		}
		p.fds[pid] = fd
	}
	last := p.last[pid]
	p.mu.Unlock()
	if fd < 0 {
		return last
	}
	var buf [32]byte // TASK_COMM_LEN is 16
	n, err := unix.Pread(fd, buf[:], 0)
	if err != nil || n <= 0 {
		return last
	}
	name := string(bytes.TrimRight(buf[:n], "\n"))
	if name != last {
		p.mu.Lock()
		if p.last != nil {
			p.last[pid] = name
		}
		p.mu.Unlock()
	}
	return name
}

func (p *procNames) closeLocked() {
	for _, fd := range p.fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

func (p *procNames) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeLocked()
	p.fds, p.last = nil, nil
}
