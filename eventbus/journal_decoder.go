package eventbus

// Reading the records of one segment file back, checking each.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// errCorrupt and errTorn describe records that cannot be trusted.
var (
	errTorn    = errors.New("torn record")
	errCorrupt = errors.New("corrupt record")
)

// scanner reads the records of one segment file in order.
type scanner struct {
	br     *bufio.Reader
	first  uint64
	end    uint64 // exclusive bound from the next segment; 0 = none
	last   uint64 // seq of the last record returned
	off    int64  // offset just past the last good record
	recOff int64  // offset of the last record returned
	buf    []byte
	hdr    [recHeader]byte
}

func newScanner(r io.Reader, first uint64) *scanner {
	return &scanner{br: bufio.NewReaderSize(r, 64<<10), first: first}
}

// header checks the segment's magic.
func (sc *scanner) header() error {
	var m [len(segMagic)]byte
	if _, err := io.ReadFull(sc.br, m[:]); err != nil || string(m[:]) != segMagic {
		return fmt.Errorf("%w: bad segment header", errCorrupt)
	}
	sc.off = int64(len(segMagic))
	return nil
}

// seekTo continues scanning at off (a record boundary).
func (sc *scanner) seekTo(f *os.File, off int64) error {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	sc.br.Reset(f)
	sc.off = off
	return nil
}

// next returns the next record. io.EOF means the file ends cleanly at a
// record boundary; errTorn a record cut short; errCorrupt one whose
// length, checksum or seq is wrong. payload is valid until the next call.
func (sc *scanner) next() (seq uint64, payload []byte, err error) {
	h := sc.hdr[:]
	n, err := io.ReadFull(sc.br, h)
	if err == io.EOF {
		return 0, nil, io.EOF
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %d of %d header bytes", errTorn, n, recHeader)
	}
	length := binary.LittleEndian.Uint32(h[0:])
	crc := binary.LittleEndian.Uint32(h[4:])
	seq = binary.LittleEndian.Uint64(h[8:])
	if length > maxRecord {
		return 0, nil, fmt.Errorf("%w: length %d", errCorrupt, length)
	}
	if cap(sc.buf) < int(length) {
		sc.buf = make([]byte, length)
	}
	payload = sc.buf[:length]
	if n, err := io.ReadFull(sc.br, payload); err != nil {
		return 0, nil, fmt.Errorf("%w: %d of %d payload bytes", errTorn, n, length)
	}
	if recordCRC(h[8:16], payload) != crc {
		return 0, nil, fmt.Errorf("%w: checksum mismatch", errCorrupt)
	}
	if seq < sc.first || (sc.last != 0 && seq <= sc.last) || (sc.end != 0 && seq >= sc.end) || seq > maxSeq {
		return 0, nil, fmt.Errorf("%w: seq %d out of place", errCorrupt, seq)
	}
	sc.recOff = sc.off
	sc.off += int64(recHeader) + int64(length)
	sc.last = seq
	return seq, payload, nil
}

// resync looks for the next intact record after a damaged one, so that
// one bad record costs only itself and not everything after it. It scans
// the file from just past sc.off (the start of the damaged record) for an
// offset holding a record whose length is sane, whose seq fits (beyond
// the last good one and, since a segment's seqs are consecutive, no
// further ahead than the records the rest of the file could hold) and
// whose checksum matches. A damaged segment header is resynchronised
// past the same way (sc.off is then 0). On success the scanner is positioned there and
// the next call to next returns that record; the caller reports the seqs
// in between as lost. The rest of the file is read into memory: damage
// is rare, and a segment is bounded (JournalOptions.SegmentBytes).
func (sc *scanner) resync(f *os.File) (off int64, ok bool) {
	fi, err := f.Stat()
	if err != nil || fi.Size() <= sc.off+recHeader {
		return 0, false
	}
	start := sc.off + 1
	buf := make([]byte, fi.Size()-start)
	n, _ := f.ReadAt(buf, start)
	buf = buf[:n]
	base := sc.first
	if sc.last != 0 {
		base = sc.last + 1
	}
	for o := 0; o+recHeader <= len(buf); o++ {
		length := binary.LittleEndian.Uint32(buf[o:])
		seq := binary.LittleEndian.Uint64(buf[o+8:])
		// The records base..seq-1 must fit between the damage and here,
		// and seq.. between here and the end.
		before := uint64(start+int64(o)-sc.off) / recHeader
		if length > maxRecord || seq < base || seq > maxSeq || seq-base > before ||
			(sc.end != 0 && seq >= sc.end) || o+recHeader+int(length) > len(buf) {
			continue
		}
		if recordCRC(buf[o+8:o+16], buf[o+recHeader:o+recHeader+int(length)]) != binary.LittleEndian.Uint32(buf[o+4:]) {
			continue
		}
		off = start + int64(o)
		if sc.seekTo(f, off) != nil {
			return 0, false
		}
		return off, true
	}
	return 0, false
}
