package procfs

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// Status is what notifyfs reads of /proc/TID/status.
type Status struct {
	Tgid uint32 // the thread group: the process
	// Uid and Gid are the real, effective, saved and filesystem ids.
	Uid, Gid [4]uint32
	Groups   []uint32 // supplementary groups
	// CapEff is the effective capability set (0 where the line is
	// missing: no capabilities assumed).
	CapEff uint64
}

// The indexes of Status.Uid and Status.Gid.
const (
	Real = iota
	Effective
	Saved
	FS
)

// openTask opens /proc/TID as a directory: what is read through it is
// about that task or fails.
func openTask(tid uint32) (int, error) {
	fd, err := unix.Open("/proc/"+strconv.FormatUint(uint64(tid), 10), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("procfs: task %d: %w", tid, err)
	}
	return fd, nil
}

// readAt reads the small file name of the task open at dirfd.
func readAt(dirfd int, name string) ([]byte, error) {
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 2048) // status is about 1.5 KiB
	for {
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
	}
}

// ReadStatus reads the Tgid, Uid, Gid and Groups lines of the task.
func ReadStatus(tid uint32) (Status, error) {
	fd, err := openTask(tid)
	if err != nil {
		return Status{}, err
	}
	defer unix.Close(fd)
	return readStatus(fd, tid)
}

func readStatus(dirfd int, tid uint32) (Status, error) {
	b, err := readAt(dirfd, "status")
	if err != nil {
		return Status{}, fmt.Errorf("procfs: task %d: %w", tid, err)
	}
	return parseStatus(b, tid)
}

// parseStatus reads the lines of a status file notifyfs uses.
func parseStatus(b []byte, tid uint32) (Status, error) {
	var st Status
	var seen int
	for _, line := range bytes.Split(b, []byte{'\n'}) {
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		if string(key) == "CapEff" {
			v, err := strconv.ParseUint(string(bytes.TrimSpace(val)), 16, 64)
			if err != nil {
				return Status{}, fmt.Errorf("procfs: task %d: bad CapEff line in status", tid)
			}
			st.CapEff = v
			continue
		}
		fields := bytes.Fields(val)
		nums := make([]uint32, 0, len(fields))
		for _, f := range fields {
			n, err := strconv.ParseUint(string(f), 10, 32)
			if err != nil {
				nums = nil
				break
			}
			nums = append(nums, uint32(n))
		}
		bad := func() (Status, error) {
			return Status{}, fmt.Errorf("procfs: task %d: bad %s line in status", tid, key)
		}
		switch string(key) {
		case "Tgid":
			if len(nums) != 1 {
				return bad()
			}
			st.Tgid = nums[0]
		case "Uid":
			if len(nums) != 4 {
				return bad()
			}
			copy(st.Uid[:], nums)
		case "Gid":
			if len(nums) != 4 {
				return bad()
			}
			copy(st.Gid[:], nums)
		case "Groups":
			if nums == nil && len(fields) > 0 {
				return bad()
			}
			st.Groups = nums
		default:
			continue
		}
		seen++
	}
	if seen < 4 {
		return Status{}, fmt.Errorf("procfs: task %d: status lacks Tgid, Uid, Gid or Groups", tid)
	}
	return st, nil
}

// Tgid returns the thread group (the process) of thread tid. A thread
// that is already gone is reported as itself: its process cannot be
// known any more, and its id is the best name left.
func Tgid(tid uint32) uint32 {
	st, err := ReadStatus(tid)
	if err != nil || st.Tgid == 0 {
		return tid
	}
	return st.Tgid
}

// Comm returns the command name of the task.
func Comm(tid uint32) (string, error) {
	fd, err := openTask(tid)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	b, err := readAt(fd, "comm")
	if err != nil {
		return "", fmt.Errorf("procfs: task %d: %w", tid, err)
	}
	return string(bytes.TrimRight(b, "\n")), nil
}

// Task is what a change's author is known by: its process, credentials
// and command name, read through one descriptor of /proc/TID so that
// they all describe the same task.
type Task struct {
	Status
	Comm string
}

// ReadTask reads the status and command name of the task.
func ReadTask(tid uint32) (Task, error) {
	fd, err := openTask(tid)
	if err != nil {
		return Task{}, err
	}
	defer unix.Close(fd)
	st, err := readStatus(fd, tid)
	if err != nil {
		return Task{}, err
	}
	comm, err := readAt(fd, "comm")
	if err != nil {
		return Task{}, fmt.Errorf("procfs: task %d: %w", tid, err)
	}
	return Task{Status: st, Comm: string(bytes.TrimRight(comm, "\n"))}, nil
}

// Comms reads processes' command names through descriptors of
// /proc/PID/comm kept open: a descriptor stays bound to its process, so
// a recycled pid can never make it read another process's name (reads
// fail once the process is gone, and the last name read is given). It
// keeps at most MaxComms descriptors, starting over beyond. The zero
// value is ready to use; Close releases the descriptors.
type Comms struct {
	mu  sync.Mutex
	fds map[uint32]int
	// last name read per pid, for a process that has exited since.
	last map[uint32]string
}

// MaxComms bounds the descriptors a Comms keeps open.
const MaxComms = 512

// Of returns the command name of process pid ("" if never known).
func (p *Comms) Of(pid uint32) string {
	p.mu.Lock()
	fd, ok := p.fds[pid]
	if !ok {
		if p.fds == nil || len(p.fds) >= MaxComms {
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

func (p *Comms) closeLocked() {
	for _, fd := range p.fds {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// Close releases the descriptors; Of may be used again afterwards.
func (p *Comms) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeLocked()
	p.fds, p.last = nil, nil
}

// Statuses reads tasks' status through descriptors of /proc/TID/status
// kept open, one pread each (no open and close per read, which matters
// when every request of a filesystem needs it). A descriptor stays bound
// to its task, so a recycled thread id can never make it describe
// another: reads fail once the task is gone, and the file is opened
// again. It keeps at most MaxStatuses descriptors, starting over beyond.
// The zero value is ready to use; Close releases the descriptors.
type Statuses struct {
	mu  sync.Mutex
	fds map[uint32]int
}

// MaxStatuses bounds the descriptors a Statuses keeps open.
const MaxStatuses = 512

// Of reads the status of task tid.
func (s *Statuses) Of(tid uint32) (Status, error) {
	var buf [4096]byte // status is about 1.5 KiB
	for attempt := 0; attempt < 2; attempt++ {
		s.mu.Lock()
		fd, ok := s.fds[tid]
		if !ok {
			if s.fds == nil || len(s.fds) >= MaxStatuses {
				s.closeLocked()
				s.fds = make(map[uint32]int)
			}
			var err error
			fd, err = unix.Open("/proc/"+strconv.FormatUint(uint64(tid), 10)+"/status", unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				s.mu.Unlock()
				return Status{}, fmt.Errorf("procfs: task %d: %w", tid, err)
			}
			s.fds[tid] = fd
		}
		n, err := unix.Pread(fd, buf[:], 0)
		if err == nil && n > 0 {
			s.mu.Unlock()
			return parseStatus(buf[:n], tid)
		}
		// The task behind the descriptor is gone: forget it, look again.
		unix.Close(fd)
		delete(s.fds, tid)
		s.mu.Unlock()
	}
	return Status{}, fmt.Errorf("procfs: task %d: %w", tid, unix.ESRCH)
}

func (s *Statuses) closeLocked() {
	for _, fd := range s.fds {
		unix.Close(fd)
	}
	s.fds = nil
}

// Close releases the descriptors; Of may be used again afterwards.
func (s *Statuses) Close() {
	s.mu.Lock()
	s.closeLocked()
	s.mu.Unlock()
}
