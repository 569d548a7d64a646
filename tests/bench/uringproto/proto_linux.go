//go:build linux

package main

import (
	"encoding/binary"
	"strconv"
)

// The FUSE wire protocol, only what a create/stat loop needs. Layouts
// follow include/uapi/linux/fuse.h (protocol 7.42+); everything is
// little-endian on the machines this runs on, and encoded by hand so the
// same bytes serve both transports.

const (
	opLookup      = 1
	opForget      = 2
	opGetattr     = 3
	opSetattr     = 4
	opMknod       = 8
	opMkdir       = 9
	opOpen        = 14
	opStatfs      = 17
	opRelease     = 18
	opGetxattr    = 22
	opFlush       = 25
	opInit        = 26
	opOpendir     = 27
	opReaddir     = 28
	opReleasedir  = 29
	opInterrupt   = 36
	opCreate      = 35
	opDestroy     = 38
	opBatchForget = 42
	opMax         = 64
)

var opNames = map[uint32]string{
	opLookup: "LOOKUP", opForget: "FORGET", opGetattr: "GETATTR", opSetattr: "SETATTR",
	opMknod: "MKNOD", opMkdir: "MKDIR", opOpen: "OPEN", opStatfs: "STATFS", opRelease: "RELEASE",
	opGetxattr: "GETXATTR", opFlush: "FLUSH", opInit: "INIT", opOpendir: "OPENDIR",
	opReaddir: "READDIR", opReleasedir: "RELEASEDIR", opInterrupt: "INTERRUPT", opCreate: "CREATE",
	opDestroy: "DESTROY", opBatchForget: "BATCH_FORGET",
}

func opName(op uint32) string {
	if s, ok := opNames[op]; ok {
		return s
	}
	return "op" + strconv.Itoa(int(op))
}

// argSize is the size of a request's in_args[0], the per-opcode header.
// Over /dev/fuse it directly follows fuse_in_header and the variable part
// (names) follows it; over io_uring the kernel puts it into the entry's
// op_in area and the variable part into the payload buffer (since the
// kernel made in_args[0] always the header, "fuse: make args->in_args[0]
// to be always the header"; LOOKUP, UNLINK, STATFS have a zero-sized one).
func argSize(op uint32) int {
	switch op {
	case opForget:
		return 8 // fuse_forget_in
	case opGetattr:
		return 16 // fuse_getattr_in
	case opSetattr:
		return 88 // fuse_setattr_in
	case opMknod:
		return 16 // fuse_mknod_in
	case opMkdir:
		return 8 // fuse_mkdir_in
	case opOpen, opOpendir:
		return 8 // fuse_open_in
	case opRelease, opReleasedir:
		return 24 // fuse_release_in
	case opGetxattr:
		return 8 // fuse_getxattr_in
	case opFlush:
		return 24 // fuse_flush_in
	case opInit:
		return 64 // fuse_init_in
	case opReaddir:
		return 40 // fuse_read_in
	case opCreate:
		return 16 // fuse_create_in
	case opInterrupt:
		return 8 // fuse_interrupt_in
	case opBatchForget:
		return 8 // fuse_batch_forget_in
	}
	return 0
}

// noReply says the kernel expects no answer.
func noReply(op uint32) bool {
	return op == opForget || op == opBatchForget || op == opInterrupt
}

const (
	inHeaderSize  = 40 // fuse_in_header
	outHeaderSize = 16 // fuse_out_header
	attrSize      = 88 // fuse_attr
	entryOutSize  = 40 + attrSize
	attrOutSize   = 16 + attrSize
	openOutSize   = 16
	statfsOutSize = 80
	initOutSize   = 64
)

// fuse_in_header
type inHeader struct {
	len     uint32
	opcode  uint32
	unique  uint64
	nodeid  uint64
	uid     uint32
	gid     uint32
	pid     uint32
	totalEx uint16 // total_extlen
}

func parseInHeader(b []byte) inHeader {
	le := binary.LittleEndian
	return inHeader{
		len: le.Uint32(b[0:]), opcode: le.Uint32(b[4:]), unique: le.Uint64(b[8:]),
		nodeid: le.Uint64(b[16:]), uid: le.Uint32(b[24:]), gid: le.Uint32(b[28:]),
		pid: le.Uint32(b[32:]), totalEx: le.Uint16(b[36:]),
	}
}

func putOutHeader(b []byte, n int, errno int32, unique uint64) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(n))
	le.PutUint32(b[4:], uint32(errno))
	le.PutUint64(b[8:], unique)
}

// INIT flags (fuse_init_in.flags | fuse_init_in.flags2<<32).
const (
	initAsyncRead      = 1 << 0
	initBigWrites      = 1 << 5
	initParallelDirops = 1 << 18
	initInitExt        = 1 << 30
	initOverIoUring    = 1 << 41
)

// attr is what the handlers know of an inode.
type attr struct {
	ino, size, blocks     uint64
	atime, mtime, ctime   uint64
	atimens, mtimens      uint32
	ctimens, mode, nlink  uint32
	uid, gid, rdev, blksz uint32
}

func putAttr(b []byte, a *attr) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], a.ino)
	le.PutUint64(b[8:], a.size)
	le.PutUint64(b[16:], a.blocks)
	le.PutUint64(b[24:], a.atime)
	le.PutUint64(b[32:], a.mtime)
	le.PutUint64(b[40:], a.ctime)
	le.PutUint32(b[48:], a.atimens)
	le.PutUint32(b[52:], a.mtimens)
	le.PutUint32(b[56:], a.ctimens)
	le.PutUint32(b[60:], a.mode)
	le.PutUint32(b[64:], a.nlink)
	le.PutUint32(b[68:], a.uid)
	le.PutUint32(b[72:], a.gid)
	le.PutUint32(b[76:], a.rdev)
	le.PutUint32(b[80:], a.blksz)
	le.PutUint32(b[84:], 0)
}

// putEntryOut writes fuse_entry_out.
func putEntryOut(b []byte, nodeid uint64, ttlSec uint64, ttlNsec uint32, a *attr) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], nodeid)
	le.PutUint64(b[8:], 0) // generation
	le.PutUint64(b[16:], ttlSec)
	le.PutUint64(b[24:], ttlSec)
	le.PutUint32(b[32:], ttlNsec)
	le.PutUint32(b[36:], ttlNsec)
	putAttr(b[40:], a)
}

// putAttrOut writes fuse_attr_out.
func putAttrOut(b []byte, ttlSec uint64, ttlNsec uint32, a *attr) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], ttlSec)
	le.PutUint32(b[8:], ttlNsec)
	le.PutUint32(b[12:], 0)
	putAttr(b[16:], a)
}

// putOpenOut writes fuse_open_out.
func putOpenOut(b []byte, fh uint64, openFlags uint32) {
	le := binary.LittleEndian
	le.PutUint64(b[0:], fh)
	le.PutUint32(b[8:], openFlags)
	le.PutUint32(b[12:], 0)
}

// cstring returns the NUL-terminated name at the start of b.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
