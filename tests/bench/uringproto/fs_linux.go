//go:build linux

package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// server is the request handling shared by both transports: a node table
// over either an in-memory tree or a directory (passthrough by relative
// path beneath a descriptor of that directory, as the daemon does). It
// knows nothing of how a request arrived: handle gets the per-opcode
// header (arg) and the variable part (rest) as two slices, and writes the
// reply's arguments into out.
type server struct {
	src    int // passthrough: O_PATH descriptor of the backing directory; -1: in memory
	ttlSec uint64
	ttlNs  uint32

	mu    sync.Mutex
	nodes map[uint64]*node
	next  uint64
	dirs  map[uint64][]dirent // open directory handles
	nextH uint64

	// counts[path][opcode]: requests by the path that carried them
	// (0: /dev/fuse, 1: io_uring).
	counts [2][opMax]atomic.Uint64
}

type node struct {
	parent   uint64
	name     string
	path     string // relative to src ("." for the root)
	lookups  uint64
	a        attr // in memory: the attributes
	children map[string]uint64
}

type dirent struct {
	ino  uint64
	typ  uint32
	name string
}

const (
	pathDev  = 0
	pathRing = 1
)

func newServer(src string, ttl time.Duration) (*server, error) {
	s := &server{src: -1, nodes: map[uint64]*node{}, next: 2, dirs: map[uint64][]dirent{}, nextH: 1}
	s.ttlSec, s.ttlNs = uint64(ttl/time.Second), uint32(ttl%time.Second)
	now := time.Now()
	root := &node{path: ".", children: map[string]uint64{}, lookups: 1,
		a: attr{ino: 1, mode: syscall.S_IFDIR | 0o755, nlink: 2, blksz: 4096}}
	setTimes(&root.a, now)
	if src != "" {
		fd, err := unix.Open(src, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, &os.PathError{Op: "open", Path: src, Err: err}
		}
		s.src = fd
	}
	s.nodes[1] = root
	return s, nil
}

func setTimes(a *attr, t time.Time) {
	sec, ns := uint64(t.Unix()), uint32(t.Nanosecond())
	a.atime, a.mtime, a.ctime = sec, sec, sec
	a.atimens, a.mtimens, a.ctimens = ns, ns, ns
}

func statToAttr(st *unix.Stat_t, a *attr) {
	*a = attr{ino: st.Ino, size: uint64(st.Size), blocks: uint64(st.Blocks),
		atime: uint64(st.Atim.Sec), mtime: uint64(st.Mtim.Sec), ctime: uint64(st.Ctim.Sec),
		atimens: uint32(st.Atim.Nsec), mtimens: uint32(st.Mtim.Nsec), ctimens: uint32(st.Ctim.Nsec),
		mode: st.Mode, nlink: uint32(st.Nlink), uid: st.Uid, gid: st.Gid, rdev: uint32(st.Rdev),
		blksz: uint32(st.Blksize)}
}

func (s *server) getNode(id uint64) *node {
	s.mu.Lock()
	n := s.nodes[id]
	s.mu.Unlock()
	return n
}

func joinPath(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// addChild returns the node id for name in parent, making one, and counts
// a lookup.
func (s *server) addChild(parent *node, pid uint64, name string, a *attr) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := parent.children[name]; ok {
		n := s.nodes[id]
		n.lookups++
		if s.src >= 0 {
			n.a = *a
		}
		return id
	}
	id := s.next
	s.next++
	n := &node{parent: pid, name: name, path: joinPath(parent.path, name), lookups: 1, a: *a}
	if a.mode&syscall.S_IFMT == syscall.S_IFDIR {
		n.children = map[string]uint64{}
	}
	if s.src < 0 {
		n.a.ino = id
	}
	parent.children[name] = id
	s.nodes[id] = n
	return id
}

func (s *server) forget(id, nlookup uint64) {
	if id == 1 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[id]
	if n == nil {
		return
	}
	if n.lookups > nlookup {
		n.lookups -= nlookup
		return
	}
	n.lookups = 0
	// In memory the node is the file: keep it. Passthrough: drop it.
	if s.src >= 0 {
		if p := s.nodes[n.parent]; p != nil && p.children[n.name] == id {
			delete(p.children, n.name)
		}
		delete(s.nodes, id)
	}
}

// stat fills a with the node's attributes.
func (s *server) stat(n *node, a *attr) syscall.Errno {
	if s.src < 0 {
		s.mu.Lock()
		*a = n.a
		s.mu.Unlock()
		return 0
	}
	var st unix.Stat_t
	if err := unix.Fstatat(s.src, n.path, &st, unix.AT_SYMLINK_NOFOLLOW|unix.AT_EMPTY_PATH); err != nil {
		return err.(syscall.Errno)
	}
	statToAttr(&st, a)
	return 0
}

// handle answers one request (everything but INIT). It returns the size
// of the reply's arguments written to out, or an errno.
func (s *server) handle(h *inHeader, arg, rest, out []byte) (int, syscall.Errno) {
	le := binary.LittleEndian
	switch h.opcode {
	case opLookup:
		name := cstring(rest)
		p := s.getNode(h.nodeid)
		if p == nil || p.children == nil {
			return 0, syscall.ENOENT
		}
		var a attr
		if s.src < 0 {
			s.mu.Lock()
			id, ok := p.children[name]
			if !ok {
				s.mu.Unlock()
				return 0, syscall.ENOENT
			}
			n := s.nodes[id]
			n.lookups++
			a = n.a
			s.mu.Unlock()
			putEntryOut(out, id, s.ttlSec, s.ttlNs, &a)
			return entryOutSize, 0
		}
		var st unix.Stat_t
		if err := unix.Fstatat(s.src, joinPath(p.path, name), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return 0, err.(syscall.Errno)
		}
		statToAttr(&st, &a)
		id := s.addChild(p, h.nodeid, name, &a)
		putEntryOut(out, id, s.ttlSec, s.ttlNs, &a)
		return entryOutSize, 0

	case opForget:
		s.forget(h.nodeid, le.Uint64(arg))
		return 0, 0

	case opBatchForget:
		count := int(le.Uint32(arg))
		for i := 0; i < count && 16*i+16 <= len(rest); i++ {
			s.forget(le.Uint64(rest[16*i:]), le.Uint64(rest[16*i+8:]))
		}
		return 0, 0

	case opGetattr, opSetattr:
		n := s.getNode(h.nodeid)
		if n == nil {
			return 0, syscall.ENOENT
		}
		if h.opcode == opSetattr && s.src < 0 {
			// Accepted and ignored beyond the size: enough for O_TRUNC.
			valid := le.Uint32(arg)
			if valid&(1<<3) != 0 { // FATTR_SIZE
				s.mu.Lock()
				n.a.size = le.Uint64(arg[8:])
				s.mu.Unlock()
			}
		}
		var a attr
		if e := s.stat(n, &a); e != 0 {
			return 0, e
		}
		putAttrOut(out, s.ttlSec, s.ttlNs, &a)
		return attrOutSize, 0

	case opCreate, opMknod, opMkdir:
		mode := le.Uint32(arg[0:])
		flags := uint32(0)
		if h.opcode == opCreate {
			flags, mode = le.Uint32(arg[0:]), le.Uint32(arg[4:])
		}
		name := cstring(rest)
		p := s.getNode(h.nodeid)
		if p == nil || p.children == nil {
			return 0, syscall.ENOENT
		}
		if h.opcode == opMkdir {
			mode = mode&0o7777 | syscall.S_IFDIR
		} else if mode&syscall.S_IFMT == 0 {
			mode |= syscall.S_IFREG
		}
		var a attr
		var fh uint64
		if s.src < 0 {
			s.mu.Lock()
			_, exists := p.children[name]
			s.mu.Unlock()
			if exists {
				return 0, syscall.EEXIST
			}
			a = attr{mode: mode, nlink: 1, uid: h.uid, gid: h.gid, blksz: 4096}
			if h.opcode == opMkdir {
				a.nlink = 2
			}
			setTimes(&a, time.Now())
		} else {
			rel := joinPath(p.path, name)
			var st unix.Stat_t
			switch h.opcode {
			case opCreate:
				fd, err := unix.Openat(s.src, rel, int(flags)|unix.O_CREAT|unix.O_CLOEXEC, mode&0o7777)
				if err != nil {
					return 0, err.(syscall.Errno)
				}
				if err := unix.Fstat(fd, &st); err != nil {
					unix.Close(fd)
					return 0, err.(syscall.Errno)
				}
				fh = uint64(fd)
			case opMkdir:
				if err := unix.Mkdirat(s.src, rel, mode&0o7777); err != nil {
					return 0, err.(syscall.Errno)
				}
			default:
				if err := unix.Mknodat(s.src, rel, mode, int(le.Uint32(arg[4:]))); err != nil {
					return 0, err.(syscall.Errno)
				}
			}
			if fh == 0 {
				if err := unix.Fstatat(s.src, rel, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					return 0, err.(syscall.Errno)
				}
			}
			statToAttr(&st, &a)
		}
		id := s.addChild(p, h.nodeid, name, &a)
		if s.src < 0 {
			a.ino = id
		}
		putEntryOut(out, id, s.ttlSec, s.ttlNs, &a)
		if h.opcode != opCreate {
			return entryOutSize, 0
		}
		putOpenOut(out[entryOutSize:], fh, 0)
		return entryOutSize + openOutSize, 0

	case opOpen:
		n := s.getNode(h.nodeid)
		if n == nil {
			return 0, syscall.ENOENT
		}
		var fh uint64
		if s.src >= 0 {
			flags := int(le.Uint32(arg)) &^ (unix.O_CREAT | unix.O_EXCL | unix.O_NOCTTY)
			fd, err := unix.Openat(s.src, n.path, flags|unix.O_CLOEXEC, 0)
			if err != nil {
				return 0, err.(syscall.Errno)
			}
			fh = uint64(fd)
		}
		putOpenOut(out, fh, 0)
		return openOutSize, 0

	case opFlush:
		return 0, 0

	case opRelease:
		if fh := le.Uint64(arg); s.src >= 0 && fh != 0 {
			unix.Close(int(fh))
		}
		return 0, 0

	case opOpendir:
		n := s.getNode(h.nodeid)
		if n == nil || n.children == nil {
			return 0, syscall.ENOTDIR
		}
		ents := []dirent{{ino: 1, typ: syscall.S_IFDIR >> 12, name: "."}, {ino: 1, typ: syscall.S_IFDIR >> 12, name: ".."}}
		if s.src < 0 {
			s.mu.Lock()
			for name, id := range n.children {
				ents = append(ents, dirent{ino: id, typ: s.nodes[id].a.mode >> 12, name: name})
			}
			s.mu.Unlock()
		} else {
			des, err := os.ReadDir("/proc/self/fd/" + strconv.Itoa(s.src) + "/" + n.path)
			if err != nil {
				return 0, syscall.EIO
			}
			for _, de := range des {
				ents = append(ents, dirent{ino: 0xffffffff, name: de.Name()}) // DT_UNKNOWN
			}
		}
		s.mu.Lock()
		fh := s.nextH
		s.nextH++
		s.dirs[fh] = ents
		s.mu.Unlock()
		putOpenOut(out, fh, 0)
		return openOutSize, 0

	case opReaddir:
		fh, off, size := le.Uint64(arg[0:]), le.Uint64(arg[8:]), int(le.Uint32(arg[16:]))
		s.mu.Lock()
		ents := s.dirs[fh]
		s.mu.Unlock()
		if size > len(out) {
			size = len(out)
		}
		n := 0
		for i := int(off); i < len(ents); i++ {
			e := ents[i]
			rec := 24 + len(e.name)
			padded := (rec + 7) &^ 7
			if n+padded > size {
				break
			}
			le.PutUint64(out[n:], e.ino)
			le.PutUint64(out[n+8:], uint64(i+1))
			le.PutUint32(out[n+16:], uint32(len(e.name)))
			le.PutUint32(out[n+20:], e.typ)
			copy(out[n+24:], e.name)
			clear(out[n+rec : n+padded])
			n += padded
		}
		return n, 0

	case opReleasedir:
		s.mu.Lock()
		delete(s.dirs, le.Uint64(arg))
		s.mu.Unlock()
		return 0, 0

	case opStatfs:
		clear(out[:statfsOutSize])
		var st unix.Statfs_t
		if s.src >= 0 {
			if err := unix.Fstatfs(s.src, &st); err != nil {
				return 0, err.(syscall.Errno)
			}
		} else {
			st = unix.Statfs_t{Blocks: 1 << 20, Bfree: 1 << 20, Bavail: 1 << 20, Files: 1 << 20, Ffree: 1 << 20, Bsize: 4096, Namelen: 255, Frsize: 4096}
		}
		le.PutUint64(out[0:], st.Blocks)
		le.PutUint64(out[8:], st.Bfree)
		le.PutUint64(out[16:], st.Bavail)
		le.PutUint64(out[24:], st.Files)
		le.PutUint64(out[32:], st.Ffree)
		le.PutUint32(out[40:], uint32(st.Bsize))
		le.PutUint32(out[44:], uint32(st.Namelen))
		le.PutUint32(out[48:], uint32(st.Frsize))
		return statfsOutSize, 0

	case opInterrupt:
		return 0, 0

	case opDestroy:
		return 0, 0
	}
	return 0, syscall.ENOSYS
}

// initReply answers INIT into out; with uring it asks for
// FUSE_OVER_IO_URING, which the kernel offers only when enable_uring is
// on. It returns the reply size and whether io_uring was agreed.
func initReply(arg, out []byte, uring bool) (int, bool, error) {
	le := binary.LittleEndian
	major, minor := le.Uint32(arg[0:]), le.Uint32(arg[4:])
	if major != 7 || minor < 36 {
		return 0, false, fmt.Errorf("kernel FUSE protocol %d.%d: need 7.36+", major, minor)
	}
	kflags := uint64(le.Uint32(arg[12:]))
	if kflags&initInitExt != 0 {
		kflags |= uint64(le.Uint32(arg[16:])) << 32
	}
	want := uint64(initAsyncRead | initBigWrites | initParallelDirops | initInitExt)
	gotUring := false
	if uring {
		if kflags&initOverIoUring == 0 {
			return 0, false, fmt.Errorf("kernel did not offer FUSE_OVER_IO_URING in INIT (flags %#x): enable_uring off or kernel without CONFIG_FUSE_IO_URING", kflags)
		}
		want |= initOverIoUring
		gotUring = true
	}
	flags := want & kflags
	clear(out[:initOutSize])
	le.PutUint32(out[0:], 7)
	le.PutUint32(out[4:], min(minor, 45))
	le.PutUint32(out[8:], le.Uint32(arg[8:])) // max_readahead
	le.PutUint32(out[12:], uint32(flags))
	le.PutUint16(out[16:], 12)       // max_background
	le.PutUint16(out[18:], 9)        // congestion_threshold
	le.PutUint32(out[20:], maxWrite) // max_write
	le.PutUint32(out[24:], 1)        // time_gran
	le.PutUint32(out[32:], uint32(flags>>32))
	return initOutSize, gotUring, nil
}

// maxWrite is the largest WRITE the kernel sends; with the default 32
// pages per request it fixes the io_uring payload buffers at 128 KiB.
const maxWrite = 128 << 10
