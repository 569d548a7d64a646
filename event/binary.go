package event

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// The journal stores events in a compact binary form: JSON would double
// the bytes on disk and its decoding would make replay slower than the
// subscribers it serves.
//
//	version u8 (1 or 2) | type u8 | flags u8 | origin u8 | time varint(unix ns)
//	ino, mode, size(zigzag), pid, uid, gid, count, from_seq, to_seq  uvarints
//	path, from, target, xattr, comm, epoch, unknown  (uvarint length + bytes)
//	version 2 only: host  (uvarint length + bytes)
//
// Seq is not part of the payload: the record header carries it. An event
// without a Host is written as version 1, byte for byte what journals
// held before Host existed, so old and new daemons read each other's
// journals of local events.

const (
	codecVersion     = 1
	codecVersionHost = 2
)

const (
	flagIsDir = 1 << iota
	flagLastLink
	flagReplaced
	flagExchange
	flagHasAttr
	// flagOffline took a bit that was always 0: journals written before
	// it read as they did, and an older daemon reading a newer journal
	// only misses the mark.
	flagOffline
)

// ErrCodec is wrapped by every binary decoding error.
var ErrCodec = errors.New("event: bad event encoding")

// AppendBinary appends the binary form of e (Seq left out).
func (e *Event) AppendBinary(b []byte) []byte {
	var flags byte
	for i, on := range []bool{e.IsDir, e.LastLink, e.Replaced, e.Exchange, e.HasAttr, e.Offline} {
		if on {
			flags |= 1 << i
		}
	}
	version := byte(codecVersion)
	if e.Host != "" {
		version = codecVersionHost
	}
	b = append(b, version, byte(e.Type), flags, byte(e.Origin))
	b = binary.AppendVarint(b, e.Time.UnixNano())
	for _, v := range []uint64{e.Ino, uint64(e.Mode), zigzag(e.Size), uint64(e.Pid), uint64(e.Uid), uint64(e.Gid), uint64(e.Count), e.FromSeq, e.ToSeq} {
		b = binary.AppendUvarint(b, v)
	}
	for _, s := range []string{e.Path, e.From, e.Target, e.Xattr, e.Comm, e.Epoch, e.Unknown} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if version == codecVersionHost {
		b = binary.AppendUvarint(b, uint64(len(e.Host)))
		b = append(b, e.Host...)
	}
	return b
}

func zigzag(v int64) uint64   { return uint64(v<<1) ^ uint64(v>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// DecodeBinary fills e from b (as written by AppendBinary); seq is set
// from the record header. Any malformed input is an error wrapping
// ErrCodec, never a panic, and leaves e unchanged.
func (e *Event) DecodeBinary(seq uint64, b []byte) error {
	if len(b) < 4 {
		return fmt.Errorf("%w: %d bytes", ErrCodec, len(b))
	}
	version := b[0]
	if version != codecVersion && version != codecVersionHost {
		return fmt.Errorf("%w: version %d", ErrCodec, version)
	}
	typ, flags, origin := Type(b[1]), b[2], Origin(b[3])
	b = b[4:]
	ns, n := binary.Varint(b)
	if n <= 0 {
		return fmt.Errorf("%w: time", ErrCodec)
	}
	b = b[n:]
	var nums [9]uint64
	for i := range nums {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return fmt.Errorf("%w: field %d", ErrCodec, i)
		}
		nums[i], b = v, b[n:]
	}
	var strs [8]string
	nstrs := 7
	if version == codecVersionHost {
		nstrs = 8
	}
	for i := range strs[:nstrs] {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return fmt.Errorf("%w: string %d", ErrCodec, i)
		}
		strs[i] = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCodec, len(b))
	}
	*e = Event{
		Seq: seq, Time: time.Unix(0, ns), Type: typ, Origin: origin,
		IsDir: flags&flagIsDir != 0, LastLink: flags&flagLastLink != 0,
		Replaced: flags&flagReplaced != 0, Exchange: flags&flagExchange != 0,
		HasAttr: flags&flagHasAttr != 0,
		Offline: flags&flagOffline != 0,
		Ino:     nums[0], Mode: uint32(nums[1]), Size: unzigzag(nums[2]),
		Pid: uint32(nums[3]), Uid: uint32(nums[4]), Gid: uint32(nums[5]),
		Count: uint32(nums[6]), FromSeq: nums[7], ToSeq: nums[8],
		Path: strs[0], From: strs[1], Target: strs[2], Xattr: strs[3],
		Comm: strs[4], Epoch: strs[5], Unknown: strs[6], Host: strs[7],
	}
	return nil
}
