package eventbus

// Opening a journal: one daemon at a time, the epoch and the seq
// reservation, and repair of a torn tail left by a crash.

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// takeLock makes sure one daemon at a time writes a journal.
func (j *journal) takeLock() error {
	f, err := os.OpenFile(filepath.Join(j.dir, lockFile), os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("%w: %s is in use by another notifyfs daemon", ErrJournal, j.dir)
	}
	j.lock = f
	return nil
}

// recover reads the epoch and the reservation, finds the segments and
// repairs the last one. It returns the next seq to assign.
func (j *journal) recover() (uint64, error) {
	epoch, err := os.ReadFile(filepath.Join(j.dir, epochFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := j.newEpoch(); err != nil {
			return 0, err
		}
	case err != nil:
		return 0, fmt.Errorf("%w: %w", ErrJournal, err)
	default:
		j.epoch = strings.TrimSpace(string(epoch))
		if len(j.epoch) == 0 || len(j.epoch) > 64 || strings.ContainsAny(j.epoch, " \t\n\"\\/") {
			return 0, fmt.Errorf("%w: %s: malformed epoch %q; move the journal directory away to start a new one", ErrJournal, filepath.Join(j.dir, epochFile), epoch)
		}
		b, err := os.ReadFile(filepath.Join(j.dir, reserveFile))
		if err == nil && len(b) == 12 && crc32.Checksum(b[:8], castagnoli) == binary.LittleEndian.Uint32(b[8:]) && binary.LittleEndian.Uint64(b) <= maxSeq {
			j.reserved = binary.LittleEndian.Uint64(b)
			break
		}
		// Without the reservation nothing says which seqs were handed
		// out: a segment truncated meanwhile would make the sequence
		// move back, and an old cursor resume into different events.
		// Start a new epoch, so that every old cursor gets a reset, and
		// keep the old epoch's segments aside (never delete data).
		why := "is missing"
		if err == nil {
			why = "is corrupt"
		}
		old := j.epoch
		if err := j.newEpoch(); err != nil {
			return 0, err
		}
		aside, err := j.setAsideEpoch(old)
		if err != nil {
			return 0, err
		}
		j.opts.Logf("journal: %s %s, so the seqs handed out before the last stop are unknown; starting a new epoch %s (cursors of epoch %s get a reset); its segments were moved to %s", reserveFile, why, j.epoch, old, aside)
	}

	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	for _, e := range entries {
		name := e.Name()
		first, ok := strings.CutSuffix(name, ".seg")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(first, 10, 64)
		if err != nil || len(first) != 20 || n == 0 {
			j.opts.Logf("journal: ignoring unexpected file %s", name)
			continue
		}
		j.segs = append(j.segs, &segment{first: n, path: filepath.Join(j.dir, name)})
	}
	slices.SortFunc(j.segs, func(a, b *segment) int { return cmp.Compare(a.first, b.first) })

	last := uint64(0)
	for len(j.segs) > 0 {
		s := j.segs[len(j.segs)-1]
		l, ok, err := j.repairTail(s)
		if err != nil {
			return 0, err
		}
		if ok {
			last = l
			break
		}
		// Nothing usable in it: set it aside (never delete data) and look
		// at the previous one.
		aside := s.path + ".corrupt"
		os.Rename(s.path, aside)
		j.opts.Logf("journal: %s has no valid records; moved to %s", s.path, aside)
		j.segs = j.segs[:len(j.segs)-1]
	}
	for _, s := range j.segs {
		if fi, err := os.Stat(s.path); err == nil {
			j.total += fi.Size()
		}
	}
	next := max(last, j.reserved) + 1
	if j.reserved > last {
		j.opts.Logf("journal: seqs %d..%d were handed out but not written before the last stop; readers resuming there are told", last+1, j.reserved)
	}
	return next, nil
}

// repairTail scans the last segment, truncating a torn or corrupt tail.
// It returns the seq of the last good record; ok=false when the segment
// holds none.
func (j *journal) repairTail(s *segment) (last uint64, ok bool, err error) {
	f, err := openNoFollow(s.path, os.O_RDWR)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return 0, false, nil // a symlink is no segment of ours: set it aside
		}
		return 0, false, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	defer f.Close()
	sc := newScanner(f, s.first)
	if err := sc.header(); err != nil {
		// A damaged header does not make the records after it worthless.
		sc.off = 0
		if _, ok := sc.resync(f); !ok {
			return 0, false, nil
		}
		j.opts.Logf("journal: %s: %v; reading its intact records", s.path, err)
	}
	count := 0
	for {
		seq, _, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			// A damaged record in the middle costs only itself: carry on
			// from the next intact one (readers report the seqs between
			// as lost). Only a tail with no intact record is truncated.
			bad := sc.off
			if off, ok := sc.resync(f); ok {
				j.opts.Logf("journal: %s: %v at offset %d; skipped %d damaged bytes to the next intact record", s.path, err, bad, off-bad)
				continue
			}
			fi, _ := f.Stat()
			j.opts.Logf("journal: %s: %v at offset %d; truncated %d bytes of torn tail", s.path, err, sc.off, fi.Size()-sc.off)
			if err := f.Truncate(sc.off); err != nil {
				return 0, false, fmt.Errorf("%w: truncate %s: %w", ErrJournal, s.path, err)
			}
			f.Sync()
			break
		}
		last, ok = seq, true
		if count%indexEvery == 0 {
			s.index = append(s.index, indexEntry{seq, sc.recOff})
		}
		count++
	}
	s.full = true
	return last, ok, nil
}

// newEpoch starts a fresh epoch in the journal directory.
func (j *journal) newEpoch() error {
	j.epoch = NewEpoch()
	return j.writeFileSync(epochFile, []byte(j.epoch+"\n"))
}

// setAsideEpoch moves the segments of a past epoch into a subdirectory,
// where no reader of the new epoch serves them, and returns its path.
func (j *journal) setAsideEpoch(old string) (string, error) {
	sub := "epoch-" + old
	aside := filepath.Join(j.dir, sub)
	if err := os.Mkdir(aside, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("%w: %w", ErrJournal, err)
	}
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrJournal, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".seg") || strings.HasSuffix(e.Name(), ".seg.corrupt") {
			if err := os.Rename(filepath.Join(j.dir, e.Name()), filepath.Join(aside, e.Name())); err != nil {
				return "", fmt.Errorf("%w: %w", ErrJournal, err)
			}
		}
	}
	return aside, nil
}
