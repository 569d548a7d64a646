package eventbus

// Appending records, and reserving the seqs that may be handed out
// ahead of the disk.

import (
	"encoding/binary"
	"hash/crc32"
)

// append writes e (whose Seq is set) to the journal. It is called with
// Bus.mu held, so records are appended in seq order.
func (j *journal) append(e *Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed || (j.failed != nil && !j.resume(e.Seq)) {
		return
	}
	// Under SyncAlways subscribers only see durable events, so a crash
	// cannot lose a seq anyone saw; otherwise reserve ahead.
	if e.Seq > j.reserved && j.opts.Sync != SyncAlways {
		if err := j.reserve(e.Seq + reserveAhead); err != nil {
			j.fail(err)
			return
		}
	}
	payload := e.AppendBinary(j.scratch[:0])
	j.scratch = payload
	h := j.hdr[:]
	binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:], e.Seq)
	binary.LittleEndian.PutUint32(h[4:], recordCRC(h[8:16], payload))
	seg := j.segs[len(j.segs)-1]
	if (e.Seq-seg.first)%indexEvery == 0 {
		seg.index = append(seg.index, indexEntry{e.Seq, j.segBytes})
	}
	if _, err := j.w.Write(h); err != nil {
		j.fail(err)
		return
	}
	if _, err := j.w.Write(payload); err != nil {
		j.fail(err)
		return
	}
	n := int64(recHeader + len(payload))
	j.segBytes += n
	j.total += n
	j.appended = e.Seq
	if j.asleep {
		j.asleep = false
		select {
		case j.wake <- struct{}{}:
		default:
		}
	}
	if j.segBytes >= j.opts.SegmentBytes {
		if err := j.w.Flush(); err != nil {
			j.fail(err)
			return
		}
		j.written = j.appended
		if err := j.startSegment(e.Seq + 1); err != nil {
			j.fail(err)
			return
		}
		j.applyRetentionLocked()
	}
}

// reserve durably records that seqs up to r may be handed out, so that
// after a crash the sequence resumes beyond every seq anyone could have
// seen.
func (j *journal) reserve(r uint64) error {
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:], r)
	binary.LittleEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	if j.opts.Sync == SyncNever {
		if err := j.writeFile(reserveFile, b[:]); err != nil {
			return err
		}
	} else if err := j.writeFileSync(reserveFile, b[:]); err != nil {
		return err
	}
	j.reserved = r
	return nil
}
