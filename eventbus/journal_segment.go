package eventbus

// The on-disk format of the journal: segment files, their records and
// index, and the small files written atomically beside them.

import (
	"bufio"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
)

// On-disk format. A segment file is named after the seq of its first
// record (%020d.seg) and starts with segMagic. Records follow:
//
//	length u32 | crc32c(seq ‖ payload) u32 | seq u64 | payload (event.Event.AppendBinary)
//
// Seqs increase by one from record to record, except after a crash:
// seqs handed out but not written are skipped, never reused (see
// reserve), and a reader meeting the jump reports it as an overflow.
const (
	segMagic     = "NFSJRNL\x01"
	recHeader    = 16
	maxRecord    = 1 << 20 // an event is a few KiB at most
	reserveAhead = 1 << 16
	indexEvery   = 256
	epochFile    = "epoch"
	reserveFile  = "reserved"
	lockFile     = "lock"
)

// maxSeq bounds every seq the journal accepts from disk, far beyond any
// real stream, so that corrupt input cannot make the sequence wrap.
const maxSeq = 1 << 62

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordCRC checksums a record's seq (its 8 little-endian header bytes)
// and payload.
func recordCRC(seq []byte, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(seq, castagnoli), castagnoli, payload)
}

// segment is one file of the journal.
type segment struct {
	first uint64
	path  string
	// index maps every indexEvery-th seq to its file offset, built while
	// appending or on the first read.
	index []indexEntry
	full  bool // index covers the whole (sealed) segment
}

type indexEntry struct {
	seq uint64
	off int64
}

// startSegment opens a new active segment whose first record is first.
// Called with j.mu held (or before the journal is shared).
func (j *journal) startSegment(first uint64) error {
	name := fmt.Sprintf("%020d.seg", first)
	path := filepath.Join(j.dir, name)
	f, err := j.createExcl(name)
	if err != nil {
		return fmt.Errorf("%w: new segment: %w", ErrJournal, err)
	}
	if _, err := f.Write([]byte(segMagic)); err != nil {
		f.Close()
		os.Remove(path) // ours, and empty: a later resume starts it again
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	j.dirf.Sync()
	if j.f != nil {
		j.retired = append(j.retired, j.f)
		if len(j.segs) > 0 {
			j.segs[len(j.segs)-1].full = true
		}
	}
	j.f = f
	if j.w == nil {
		j.w = bufio.NewWriterSize(f, 256<<10)
	} else {
		j.w.Reset(f)
	}
	j.segBytes = int64(len(segMagic))
	j.total += j.segBytes
	j.segs = append(j.segs, &segment{first: first, path: path})
	return nil
}
