//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw io_uring: io_uring_setup, the three mmaps, io_uring_enter. No
// liburing, only what IORING_OP_URING_CMD on /dev/fuse needs.

const (
	setupSQE128       = 1 << 10
	setupCoopTaskrun  = 1 << 8
	setupTaskrunFlag  = 1 << 9
	setupSingleIssuer = 1 << 12
	setupDeferTaskrun = 1 << 13

	featSingleMmap = 1 << 0

	offSQRing = 0
	offSQEs   = 0x10000000

	enterGetEvents = 1 << 0

	opUringCmd = 46 // IORING_OP_URING_CMD

	sqeSize = 128 // with IORING_SETUP_SQE128: 64 bytes + 80 of command
	cqeSize = 16
)

// FUSE over io_uring (include/uapi/linux/fuse.h, fs/fuse/dev_uring.c).
const (
	fuseCmdRegister       = 1 // FUSE_IO_URING_CMD_REGISTER
	fuseCmdCommitAndFetch = 2 // FUSE_IO_URING_CMD_COMMIT_AND_FETCH

	// struct fuse_uring_req_header: in_out[128] (fuse_in_header in,
	// fuse_out_header out), op_in[128] (the request's in_args[0]),
	// struct fuse_uring_ent_in_out {u64 flags; u64 commit_id; u32
	// payload_sz; u32 padding; u64 reserved}.
	hdrInOut     = 0
	hdrOpIn      = 128
	hdrEntInOut  = 256
	hdrSize      = 256 + 32
	entCommitID  = hdrEntInOut + 8
	entPayloadSz = hdrEntInOut + 16

	// In the SQE: cmd_op is the u32 at offset 8 (the union with off),
	// struct fuse_uring_cmd_req {u64 flags; u64 commit_id; u16 qid;
	// u8 padding[6]} is in the 80-byte command area at offset 48.
	sqeCmdOp    = 8
	sqeAddr     = 16
	sqeLen      = 24
	sqeUserData = 32
	sqeCmd      = 48
)

type sqringOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqringOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqringOffsets
	cqOff                                                                  cqringOffsets
}

type ring struct {
	fd             int
	ringMem, sqMem []byte
	cqMem          []byte // == ringMem with IORING_FEAT_SINGLE_MMAP
	sqHead, sqTail *uint32
	sqMask, sqN    uint32
	sqArray        unsafe.Pointer
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           unsafe.Pointer
}

func u32at(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

func newRing(entries uint32, flags uint32) (*ring, error) {
	var p uringParams
	p.flags = flags
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, fmt.Errorf("io_uring_setup(%d, flags %#x): %w", entries, flags, e)
	}
	r := &ring{fd: int(fd)}
	sqSize := p.sqOff.array + p.sqEntries*4
	cqSize := p.cqOff.cqes + p.cqEntries*cqeSize
	size := max(sqSize, cqSize)
	var err error
	if p.features&featSingleMmap == 0 {
		r.close()
		return nil, fmt.Errorf("io_uring without IORING_FEAT_SINGLE_MMAP")
	}
	r.ringMem, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("mmap io_uring rings: %w", err)
	}
	r.cqMem = r.ringMem
	r.sqMem, err = unix.Mmap(r.fd, offSQEs, int(p.sqEntries*sqeSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, fmt.Errorf("mmap io_uring SQEs: %w", err)
	}
	r.sqHead, r.sqTail = u32at(r.ringMem, p.sqOff.head), u32at(r.ringMem, p.sqOff.tail)
	r.sqMask, r.sqN = *u32at(r.ringMem, p.sqOff.ringMask), p.sqEntries
	r.sqArray = unsafe.Pointer(&r.ringMem[p.sqOff.array])
	r.cqHead, r.cqTail = u32at(r.cqMem, p.cqOff.head), u32at(r.cqMem, p.cqOff.tail)
	r.cqMask = *u32at(r.cqMem, p.cqOff.ringMask)
	r.cqes = unsafe.Pointer(&r.cqMem[p.cqOff.cqes])
	return r, nil
}

func (r *ring) close() {
	if r.sqMem != nil {
		unix.Munmap(r.sqMem)
	}
	if r.ringMem != nil {
		unix.Munmap(r.ringMem)
	}
	unix.Close(r.fd)
}

// sqe returns the next free submission entry, zeroed, or nil.
func (r *ring) sqe() []byte {
	tail := *r.sqTail // only we write it
	if tail-atomic.LoadUint32(r.sqHead) >= r.sqN {
		return nil
	}
	idx := tail & r.sqMask
	b := r.sqMem[idx*sqeSize : (idx+1)*sqeSize]
	clear(b)
	*(*uint32)(unsafe.Add(r.sqArray, 4*idx)) = idx
	atomic.StoreUint32(r.sqTail, tail+1)
	return b
}

// enter submits what the kernel has not consumed yet and waits for
// minComplete completions. EINTR (the Go runtime preempts with SIGURG)
// just returns: the caller drains what is there and comes back.
func (r *ring) enter(minComplete uint32) error {
	toSubmit := atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead)
	flags := uintptr(0)
	if minComplete > 0 {
		flags = enterGetEvents
	}
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(minComplete), flags, 0, 0)
	if e != 0 && e != unix.EINTR && e != unix.EAGAIN && e != unix.EBUSY {
		return fmt.Errorf("io_uring_enter: %w", e)
	}
	return nil
}

// cqes calls fn for every completion there is and consumes them.
func (r *ring) reap(fn func(userData uint64, res int32)) int {
	head := *r.cqHead
	tail := atomic.LoadUint32(r.cqTail)
	n := 0
	for ; head != tail; head++ {
		c := unsafe.Add(r.cqes, uintptr(head&r.cqMask)*cqeSize)
		ud := *(*uint64)(c)
		res := *(*int32)(unsafe.Add(c, 8))
		fn(ud, res)
		n++
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}

// A ring queue: one per CPU, as the kernel wants (it picks the queue of
// the CPU the requesting task runs on, and switches to io_uring only when
// every queue has an entry registered). Its goroutine owns one OS thread,
// pinned to that CPU (as libfuse does), which submits, waits, runs the
// kernel's task work (the request copy happens in the submitter's
// context) and handles every request inline.
type uringQueue struct {
	qid     int
	fusefd  int
	depth   int
	payload int
	flags   uint32
	pin     bool
	s       *server

	r    *ring
	mem  []byte // depth × (4 KiB header page + payload)
	ents []uringEnt
}

type uringEnt struct {
	hdr     []byte // fuse_uring_req_header (+ the iovec pair after it)
	payload []byte
	iov     unsafe.Pointer
	dead    bool
}

func (q *uringQueue) setup() error {
	r, err := newRing(uint32(2*q.depth), setupSQE128|q.flags)
	if err != nil {
		return err
	}
	q.r = r
	stride := 4096 + q.payload
	q.mem, err = unix.Mmap(-1, 0, q.depth*stride, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap entry buffers: %w", err)
	}
	q.ents = make([]uringEnt, q.depth)
	le := binary.LittleEndian
	for i := range q.ents {
		e := &q.ents[i]
		base := i * stride
		e.hdr = q.mem[base : base+4096]
		e.payload = q.mem[base+4096 : base+stride]
		// iov[0]: the header, iov[1]: the payload; kept after the
		// header in the same page.
		iov := e.hdr[512 : 512+32]
		le.PutUint64(iov[0:], uint64(uintptr(unsafe.Pointer(&e.hdr[0]))))
		le.PutUint64(iov[8:], hdrSize)
		le.PutUint64(iov[16:], uint64(uintptr(unsafe.Pointer(&e.payload[0]))))
		le.PutUint64(iov[24:], uint64(len(e.payload)))
		e.iov = unsafe.Pointer(&iov[0])
	}
	return nil
}

func (q *uringQueue) prep(cmd uint32, i int, commitID uint64) error {
	b := q.r.sqe()
	if b == nil {
		return fmt.Errorf("qid %d: submission queue full", q.qid)
	}
	le := binary.LittleEndian
	b[0] = opUringCmd
	le.PutUint32(b[4:], uint32(q.fusefd))
	le.PutUint32(b[sqeCmdOp:], cmd)
	if cmd == fuseCmdRegister {
		le.PutUint64(b[sqeAddr:], uint64(uintptr(q.ents[i].iov)))
		le.PutUint32(b[sqeLen:], 2)
	}
	le.PutUint64(b[sqeUserData:], uint64(i))
	le.PutUint64(b[sqeCmd+0:], 0) // flags
	le.PutUint64(b[sqeCmd+8:], commitID)
	le.PutUint16(b[sqeCmd+16:], uint16(q.qid))
	return nil
}

// run sets the queue up on its own pinned thread, registers every entry,
// reports on ready, then serves until the kernel ends the entries
// (unmount: -ENOTCONN).
func (q *uringQueue) run(ready chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
	if q.pin {
		var set unix.CPUSet
		set.Set(q.qid)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			ready <- fmt.Errorf("qid %d: sched_setaffinity: %w", q.qid, err)
			return
		}
	}
	if err := q.setup(); err != nil {
		ready <- fmt.Errorf("qid %d: %w", q.qid, err)
		return
	}
	defer q.r.close()
	for i := range q.ents {
		if err := q.prep(fuseCmdRegister, i, 0); err != nil {
			ready <- err
			return
		}
	}
	// Submit the registrations without waiting: each is handled inline
	// (the kernel answers -EIOCBQUEUED), so a refused one has its
	// completion posted by the time io_uring_enter returns.
	if err := q.r.enter(0); err != nil {
		ready <- fmt.Errorf("qid %d: %w", q.qid, err)
		return
	}
	var regErr error
	q.r.reap(func(ud uint64, res int32) {
		if regErr == nil {
			regErr = fmt.Errorf("qid %d: FUSE_IO_URING_CMD_REGISTER entry %d: %w", q.qid, ud, syscall.Errno(-res))
		}
		q.ents[ud].dead = true
	})
	ready <- regErr
	if regErr != nil {
		return
	}
	le := binary.LittleEndian
	live := q.depth
	for live > 0 {
		if err := q.r.enter(1); err != nil {
			fmt.Fprintf(stderr, "qid %d: %v\n", q.qid, err)
			return
		}
		q.r.reap(func(ud uint64, res int32) {
			i := int(ud)
			e := &q.ents[i]
			if res < 0 {
				if res == -int32(unix.EINTR) || res == -int32(unix.EAGAIN) {
					q.prep(fuseCmdRegister, i, 0)
					return
				}
				if res != -int32(unix.ENOTCONN) && res != -int32(unix.ECANCELED) {
					fmt.Fprintf(stderr, "qid %d entry %d: %v\n", q.qid, i, syscall.Errno(-res))
				}
				e.dead = true
				live--
				return
			}
			h := parseInHeader(e.hdr[hdrInOut:])
			commit := le.Uint64(e.hdr[entCommitID:])
			psz := int(le.Uint32(e.hdr[entPayloadSz:]))
			op := h.opcode
			if op < opMax {
				q.s.counts[pathRing][op].Add(1)
			}
			arg := e.hdr[hdrOpIn : hdrOpIn+argSize(op)]
			// The reply goes into the same payload buffer: handle
			// copies what it needs from rest before writing out.
			n, errno := q.s.handle(&h, arg, e.payload[:psz], e.payload)
			if errno != 0 {
				n = 0
			}
			putOutHeader(e.hdr[hdrInOut:], outHeaderSize+n, -int32(errno), h.unique)
			le.PutUint32(e.hdr[entPayloadSz:], uint32(n))
			if err := q.prep(fuseCmdCommitAndFetch, i, commit); err != nil {
				fmt.Fprintln(stderr, err)
			}
		})
	}
}

// startUring starts one queue per possible CPU (the kernel sizes the ring
// by num_possible_cpus()) and waits until every queue is registered.
func startUring(s *server, fusefd, depth int, flags uint32, pin bool) error {
	ncpu, err := possibleCPUs()
	if err != nil {
		return err
	}
	ready := make(chan error, ncpu)
	for qid := 0; qid < ncpu; qid++ {
		q := &uringQueue{qid: qid, fusefd: fusefd, depth: depth, payload: maxWrite, flags: flags, pin: pin, s: s}
		go q.run(ready)
	}
	var first error
	for range ncpu {
		if err := <-ready; err != nil && first == nil {
			first = err
		}
	}
	return first
}
