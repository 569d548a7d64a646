package kqshim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
)

// The offline index is one file beside the journal, rewritten whole
// (temporary file, fsync, rename, fsync of the directory), so that a
// crash leaves either the old index or the new one, never a mix:
//
//	magic "notifyfs-index\n" | version u8
//	source dev, source ino, seq  uvarints | epoch (uvarint length + bytes)
//	count uvarint
//	count entries, sorted by path:
//	  shared prefix length with the previous path, suffix (length + bytes)
//	  ino, dev, mode, uid, gid, nlink uvarints
//	  birth, size, mtime, ctime zigzag varints
//	crc32c of everything before it, u32 little endian
//
// Paths sorted and prefix-compressed keep 100k files near 3 MB. Any
// mismatch (magic, version, checksum, a field that does not parse,
// another SOURCE) makes the index unusable as a whole: a partial index
// would report the missing part as created.

const (
	indexMagic   = "notifyfs-index\n"
	indexVersion = 1
	// IndexFile is the index's name inside the journal's directory.
	IndexFile = "source.idx"
)

// ErrIndex is wrapped by every error about an unusable index.
var ErrIndex = errors.New("kqshim: offline index")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// indexHeader says what an index describes and up to where.
type indexHeader struct {
	srcDev, srcIno uint64 // SOURCE itself: an index of another tree is not used
	epoch          string // the journal's epoch and last seq the index covers
	seq            uint64
}

// encodeIndex writes t in the format above.
func encodeIndex(h indexHeader, t tree) []byte {
	paths := make([]string, 0, len(t))
	for p := range t {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	b := make([]byte, 0, 64+len(t)*40)
	b = append(b, indexMagic...)
	b = append(b, indexVersion)
	b = binary.AppendUvarint(b, h.srcDev)
	b = binary.AppendUvarint(b, h.srcIno)
	b = binary.AppendUvarint(b, h.seq)
	b = binary.AppendUvarint(b, uint64(len(h.epoch)))
	b = append(b, h.epoch...)
	b = binary.AppendUvarint(b, uint64(len(paths)))
	prev := ""
	for _, p := range paths {
		n := sharedPrefix(prev, p)
		b = binary.AppendUvarint(b, uint64(n))
		b = binary.AppendUvarint(b, uint64(len(p)-n))
		b = append(b, p[n:]...)
		e := t[p]
		for _, v := range []uint64{e.Ino, e.Dev, uint64(e.Mode), uint64(e.UID), uint64(e.GID), uint64(e.Nlink)} {
			b = binary.AppendUvarint(b, v)
		}
		for _, v := range []int64{e.Birth, e.Size, e.Mtime, e.Ctime} {
			b = binary.AppendVarint(b, v)
		}
		prev = p
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func sharedPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// decodeIndex is the inverse of encodeIndex; any damage is an error
// wrapping ErrIndex.
func decodeIndex(b []byte) (indexHeader, tree, error) {
	var h indexHeader
	bad := func(what string) (indexHeader, tree, error) {
		return indexHeader{}, nil, fmt.Errorf("%w: damaged (%s)", ErrIndex, what)
	}
	if len(b) < len(indexMagic)+1+4 || !bytes.HasPrefix(b, []byte(indexMagic)) {
		return bad("not an index")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return bad("checksum")
	}
	r := &indexReader{b: body[len(indexMagic):]}
	if v := r.byte(); v != indexVersion {
		return indexHeader{}, nil, fmt.Errorf("%w: version %d, want %d", ErrIndex, v, indexVersion)
	}
	h.srcDev, h.srcIno, h.seq = r.uvarint(), r.uvarint(), r.uvarint()
	h.epoch = string(r.bytes(r.uvarint()))
	count := r.uvarint()
	if r.err != nil || count > uint64(len(r.b)) {
		return bad("header")
	}
	t := make(tree, count)
	prev := ""
	for i := uint64(0); i < count && r.err == nil; i++ {
		n := r.uvarint()
		suffix := r.bytes(r.uvarint())
		if n > uint64(len(prev)) {
			return bad("path prefix")
		}
		p := prev[:n] + string(suffix)
		var e entry
		e.Ino, e.Dev, e.Mode, e.UID, e.GID, e.Nlink = r.uvarint(), r.uvarint(), uint32(r.uvarint()), uint32(r.uvarint()), uint32(r.uvarint()), uint32(r.uvarint())
		e.Birth, e.Size, e.Mtime, e.Ctime = r.varint(), r.varint(), r.varint(), r.varint()
		t[p] = e
		prev = p
	}
	if r.err != nil || len(r.b) != 0 || uint64(len(t)) != count {
		return bad("entries")
	}
	return h, t, nil
}

// indexReader reads fields until the first error, which it keeps.
type indexReader struct {
	b   []byte
	err error
}

func (r *indexReader) byte() byte {
	if len(r.b) == 0 {
		r.err = ErrIndex
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *indexReader) uvarint() uint64 { return readNum(r, binary.Uvarint) }
func (r *indexReader) varint() int64   { return readNum(r, binary.Varint) }

// readNum reads one varint with decode, keeping the first error.
func readNum[T uint64 | int64](r *indexReader, decode func([]byte) (T, int)) T {
	v, n := decode(r.b)
	if n <= 0 {
		r.err = ErrIndex
		r.b = nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *indexReader) bytes(n uint64) []byte {
	if n > uint64(len(r.b)) {
		r.err = ErrIndex
		r.b = nil
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// writeFileAtomic replaces path with data so that a crash at any point
// leaves the old contents or the new, whole.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".index-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
