package eventbus

import (
	"fmt"
	"io"
	"os"
	"time"
)

// journalReader is one subscription's position in the journal, kept
// between Take calls so that catching up reads each segment once.
type journalReader struct {
	j    *journal
	f    *os.File
	sc   *scanner
	end  uint64 // first seq of the following segment; 0 = active segment
	next uint64 // seq the scanner is positioned at
}

func (r *journalReader) close() {
	if r.f != nil {
		r.f.Close()
		r.f, r.sc = nil, nil
	}
}

// journalScanLimit bounds the records one read examines.
const journalScanLimit = 8192

// read appends the events with seq in [from, upto] that match f (up to
// max of them) to out. It reports seqs it cannot deliver — beyond
// retention, skipped by a crash, or in a corrupt stretch — as overflow
// events. It returns the next seq to read and how many seqs were lost.
func (r *journalReader) read(from, upto uint64, f *Filter, out []*Event, max int, now time.Time) ([]*Event, uint64, uint64) {
	var lost uint64
	lose := func(a, b uint64) {
		if a > b {
			return
		}
		out = append(out, &Event{Type: Overflow, FromSeq: a, ToSeq: b, Time: now})
		lost += b - a + 1
	}
	if first := r.j.first(); from < first {
		end := min(first-1, upto)
		lose(from, end)
		from = end + 1
	}
	if from > upto {
		return out, from, lost
	}
	r.j.flushTo(upto)
	if r.sc == nil || r.next != from {
		if err := r.position(from); err != nil {
			end := upto
			if r.end != 0 {
				end = min(r.end-1, upto)
			}
			r.j.opts.Logf("journal: %v; seqs %d..%d cannot be read", err, from, end)
			lose(from, end)
			r.close()
			return out, end + 1, lost
		}
	}
	for scanned := 0; from <= upto && len(out) < max && scanned < journalScanLimit; scanned++ {
		seq, payload, err := r.sc.next()
		if err == io.EOF && r.end != 0 {
			// End of a sealed segment: on to the next one. Seqs the
			// segment should have held but does not are lost.
			if from < r.end {
				lose(from, min(r.end-1, upto))
				from = r.end
			}
			if from > upto || r.position(from) != nil {
				r.close()
				return out, from, lost
			}
			continue
		}
		if err == io.EOF {
			// The active segment ends before upto: the journal stopped
			// recording (a write error). Those events are gone.
			lose(from, upto)
			from = upto + 1
			break
		}
		if err != nil {
			if _, ok := r.sc.resync(r.f); ok {
				// The next record says how many seqs the damage took;
				// they are reported as lost when it is read.
				r.j.opts.Logf("journal: %s: %v; resuming at the next intact record", r.f.Name(), err)
				continue
			}
			end := upto
			if r.end != 0 {
				end = min(r.end-1, upto)
			}
			r.j.opts.Logf("journal: %s: %v; skipping seqs %d..%d", r.f.Name(), err, from, end)
			lose(from, end)
			from = end + 1
			if r.end == 0 || from > upto || r.position(from) != nil {
				r.close()
				return out, from, lost
			}
			continue
		}
		if seq < from {
			continue // still positioning
		}
		if seq > from {
			// Seqs handed out but never written (a crash) are skipped.
			lose(from, min(seq-1, upto))
			from = seq
			if seq > upto {
				r.close() // the record belongs to the ring's range
				return out, from, lost
			}
		}
		e := new(Event)
		if err := e.DecodeBinary(seq, payload); err != nil {
			lose(seq, seq)
		} else if e.Type != Unmount && f.Match(e) {
			// An unmount in the journal belongs to a past run of the
			// daemon; replaying it would end a resumed stream.
			out = append(out, e)
		}
		from = seq + 1
	}
	r.next = from
	return out, from, lost
}

// position opens the segment holding from and seeks to the indexed
// record nearest below it.
func (r *journalReader) position(from uint64) error {
	r.close()
	r.j.mu.Lock()
	i := 0
	for k, s := range r.j.segs {
		if s.first <= from {
			i = k
		}
	}
	s := r.j.segs[i]
	r.end = 0
	if i+1 < len(r.j.segs) {
		r.end = r.j.segs[i+1].first
	}
	off := int64(0)
	for _, x := range s.index {
		if x.seq > from {
			break
		}
		off = x.off
	}
	r.j.mu.Unlock()
	f, err := openNoFollow(s.path, os.O_RDONLY)
	if err != nil {
		return err
	}
	sc := newScanner(f, s.first)
	sc.end = r.end
	if err := sc.header(); err != nil {
		sc.off = 0 // resynchronise past a damaged header
		if _, ok := sc.resync(f); !ok {
			f.Close()
			return fmt.Errorf("%s: %w", s.path, err)
		}
		off = 0
	}
	if off > 0 {
		if err := sc.seekTo(f, off); err != nil {
			f.Close()
			return err
		}
	}
	r.f, r.sc, r.next = f, sc, from
	return nil
}
