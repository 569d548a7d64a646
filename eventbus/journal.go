package eventbus

import (
	"bufio"
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// SyncPolicy says when journal records reach the disk.
type SyncPolicy int

const (
	// SyncInterval writes and fsyncs the journal every SyncInterval: a
	// crash of the machine loses at most the last interval, a crash of
	// the daemon (kill -9) nothing already written to the kernel.
	SyncInterval SyncPolicy = iota
	// SyncAlways makes Publish return only once its event is on disk;
	// concurrent publishers share fsyncs (group commit).
	SyncAlways
	// SyncNever leaves writing back to the kernel; records are handed
	// to it every SyncInterval but never fsynced.
	SyncNever
)

var syncNames = []string{SyncInterval: "interval", SyncAlways: "always", SyncNever: "never"}

func (p SyncPolicy) String() string {
	if int(p) < len(syncNames) {
		return syncNames[p]
	}
	return "sync(" + strconv.Itoa(int(p)) + ")"
}

// ParseSyncPolicy is the inverse of SyncPolicy.String.
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	for i, n := range syncNames {
		if n == s {
			return SyncPolicy(i), nil
		}
	}
	return 0, fmt.Errorf("%w: sync policy %q (want always, interval or never)", ErrUnknownName, s)
}

// JournalOptions configures the on-disk journal. Zero values select the
// documented defaults.
type JournalOptions struct {
	// Dir holds the journal; empty = no journal (memory only).
	Dir string
	// Sync is the durability policy; SyncInterval by default.
	Sync SyncPolicy
	// SyncInterval is how often records are written and fsynced
	// (SyncInterval, SyncNever). Default 100ms.
	SyncInterval time.Duration
	// MaxBytes bounds the journal's size; the oldest segments are deleted
	// whole beyond it. Default 1 GiB.
	MaxBytes int64
	// MaxAge deletes segments whose newest record is older. 0 = no limit.
	MaxAge time.Duration
	// SegmentBytes is the size at which a new segment file is started.
	// Default 64 MiB.
	SegmentBytes int64
	// Logf reports what the journal repaired or skipped (a torn tail, a
	// corrupt segment). Default: discard.
	Logf func(format string, args ...any)
}

func (o *JournalOptions) setDefaults() {
	if o.SyncInterval <= 0 {
		o.SyncInterval = 100 * time.Millisecond
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 1 << 30
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 64 << 20
	}
	if o.SegmentBytes > o.MaxBytes/2 {
		o.SegmentBytes = max(o.MaxBytes/2, 64<<10)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// ErrJournal is wrapped by errors about the journal's files.
var ErrJournal = errors.New("eventbus: journal")

// On-disk format. A segment file is named after the seq of its first
// record (%020d.seg) and starts with segMagic. Records follow:
//
//	length u32 | crc32c(seq ‖ payload) u32 | seq u64 | payload (codec.go)
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

// journal is the append-only store behind a Bus. Appends happen under
// Bus.mu (so in seq order) and take journal.mu; fsyncs happen on the
// syncer goroutine without holding either, so publishers keep appending
// while the disk works and the next fsync covers them all.
type journal struct {
	opts  JournalOptions
	dir   string
	epoch string
	lock  *os.File

	mu       sync.Mutex
	segs     []*segment // oldest first; the last is being appended to
	f        *os.File
	w        *bufio.Writer
	segBytes int64 // bytes in the active segment
	total    int64 // bytes in all segments
	appended uint64
	written  uint64 // last seq handed to the kernel
	reserved uint64
	retired  []*os.File // rolled segments awaiting their last fsync
	scratch  []byte
	hdr      [recHeader]byte
	failed   error // a write error: the journal stopped recording
	closed   bool

	durable atomic.Uint64
	dmu     sync.Mutex
	dcond   *sync.Cond

	// onDurable is called after each fsync (SyncAlways: the bus then
	// hands the newly durable events to subscribers).
	onDurable func()

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// openJournal opens or creates the journal in o.Dir, repairing a torn
// tail. It returns the next seq to assign.
func openJournal(o JournalOptions) (*journal, uint64, error) {
	o.setDefaults()
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	j := &journal{opts: o, dir: o.Dir, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	j.dcond = sync.NewCond(&j.dmu)
	if err := j.takeLock(); err != nil {
		return nil, 0, err
	}
	next, err := j.recover()
	if err != nil {
		j.lock.Close()
		return nil, 0, err
	}
	if err := j.startSegment(next); err != nil {
		j.lock.Close()
		return nil, 0, err
	}
	j.appended, j.written = next-1, next-1
	j.durable.Store(next - 1)
	j.applyRetention()
	go j.syncLoop()
	return j, next, nil
}

// takeLock makes sure one daemon at a time writes a journal.
func (j *journal) takeLock() error {
	f, err := os.OpenFile(filepath.Join(j.dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
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
		j.epoch = NewEpoch()
		if err := writeFileSync(j.dir, epochFile, []byte(j.epoch+"\n")); err != nil {
			return 0, err
		}
	case err != nil:
		return 0, fmt.Errorf("%w: %w", ErrJournal, err)
	default:
		j.epoch = strings.TrimSpace(string(epoch))
		if len(j.epoch) == 0 || len(j.epoch) > 64 || strings.ContainsAny(j.epoch, " \t\n\"\\") {
			return 0, fmt.Errorf("%w: %s: malformed epoch %q; move the journal directory away to start a new one", ErrJournal, filepath.Join(j.dir, epochFile), epoch)
		}
	}
	if b, err := os.ReadFile(filepath.Join(j.dir, reserveFile)); err == nil {
		if len(b) != 12 || crc32.Checksum(b[:8], castagnoli) != binary.LittleEndian.Uint32(b[8:]) || binary.LittleEndian.Uint64(b) > maxSeq {
			// Without it we cannot know which seqs were handed out;
			// jump far enough ahead that none is reused.
			j.opts.Logf("journal: %s is corrupt; skipping ahead %d seqs so none is reused", reserveFile, reserveAhead)
			j.reserved = ^uint64(0) >> 1 // resolved against the segments below
		} else {
			j.reserved = binary.LittleEndian.Uint64(b)
		}
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
	slices.SortFunc(j.segs, func(a, b *segment) int { return cmpU64(a.first, b.first) })

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
	if j.reserved == ^uint64(0)>>1 {
		j.reserved = last + reserveAhead
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
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return 0, false, fmt.Errorf("%w: %w", ErrJournal, err)
	}
	defer f.Close()
	sc := newScanner(f, s.first)
	if err := sc.header(); err != nil {
		return 0, false, nil
	}
	count := 0
	for {
		seq, _, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
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

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// writeFileSync writes a small file atomically and durably.
func writeFileSync(dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	syncDir(dir)
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// startSegment opens a new active segment whose first record is first.
// Called with j.mu held (or before the journal is shared).
func (j *journal) startSegment(first uint64) error {
	path := filepath.Join(j.dir, fmt.Sprintf("%020d.seg", first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	if _, err := f.Write([]byte(segMagic)); err != nil {
		f.Close()
		return fmt.Errorf("%w: %w", ErrJournal, err)
	}
	syncDir(j.dir)
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

// append writes e (whose Seq is set) to the journal. It is called with
// Bus.mu held, so records are appended in seq order.
func (j *journal) append(e *Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.failed != nil || j.closed {
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
		if err := os.WriteFile(filepath.Join(j.dir, reserveFile), b[:], 0o600); err != nil {
			return fmt.Errorf("%w: %w", ErrJournal, err)
		}
	} else if err := writeFileSync(j.dir, reserveFile, b[:]); err != nil {
		return err
	}
	j.reserved = r
	return nil
}

func (j *journal) fail(err error) {
	if j.failed == nil {
		j.failed = err
		j.opts.Logf("journal: %v; events are no longer recorded on disk", err)
	}
}

// flushTo makes sure records up to seq have been handed to the kernel so
// that readers can see them.
func (j *journal) flushTo(seq uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.written < seq && j.w != nil && j.failed == nil {
		if err := j.w.Flush(); err != nil {
			j.fail(err)
			return
		}
		j.written = j.appended
	}
}

// writeBehind is how often buffered records are handed to the kernel
// between fsyncs: a daemon killed outright loses at most this much, as
// the kernel keeps what it was given.
const writeBehind = 10 * time.Millisecond

// syncLoop writes and fsyncs on the policy's schedule, and on request of
// publishers waiting for durability (SyncAlways).
func (j *journal) syncLoop() {
	defer close(j.done)
	t := time.NewTicker(j.opts.SyncInterval)
	defer t.Stop()
	w := time.NewTicker(min(writeBehind, j.opts.SyncInterval))
	defer w.Stop()
	lastRetention := time.Now()
	for {
		select {
		case <-j.stop:
			j.syncNow()
			return
		case <-j.kick:
		case <-w.C:
			j.flushTo(^uint64(0))
			continue
		case <-t.C:
			if time.Since(lastRetention) > time.Second {
				j.applyRetention()
				lastRetention = time.Now()
			}
		}
		j.syncNow()
	}
}

// syncNow hands buffered records to the kernel and, unless the policy
// is never, fsyncs them — without holding j.mu during the fsync.
func (j *journal) syncNow() {
	j.mu.Lock()
	if j.w != nil && j.failed == nil {
		if err := j.w.Flush(); err != nil {
			j.fail(err)
		} else {
			j.written = j.appended
		}
	}
	target := j.written
	files := append(j.retired, j.f)
	j.retired = nil
	policy := j.opts.Sync
	j.mu.Unlock()
	for i, f := range files {
		if f == nil {
			continue
		}
		if policy != SyncNever {
			f.Sync()
		}
		if i < len(files)-1 {
			f.Close()
		}
	}
	if j.durable.Load() < target {
		j.durable.Store(target)
		if j.onDurable != nil {
			j.onDurable()
		}
	}
	j.dmu.Lock()
	j.dcond.Broadcast()
	j.dmu.Unlock()
}

// waitDurable returns once seq is on disk (SyncAlways).
func (j *journal) waitDurable(seq uint64) {
	if j.durable.Load() >= seq {
		return
	}
	select {
	case j.kick <- struct{}{}:
	default:
	}
	j.dmu.Lock()
	for j.durable.Load() < seq {
		j.mu.Lock()
		broken := j.failed != nil || j.closed
		j.mu.Unlock()
		if broken {
			break
		}
		j.dcond.Wait()
	}
	j.dmu.Unlock()
}

// applyRetention deletes the oldest segments beyond MaxBytes or MaxAge.
func (j *journal) applyRetention() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.applyRetentionLocked()
}

func (j *journal) applyRetentionLocked() {
	for len(j.segs) > 1 {
		s := j.segs[0]
		fi, err := os.Stat(s.path)
		size := int64(0)
		if err == nil {
			size = fi.Size()
		}
		tooBig := j.total > j.opts.MaxBytes
		tooOld := j.opts.MaxAge > 0 && err == nil && time.Since(fi.ModTime()) > j.opts.MaxAge
		if !tooBig && !tooOld && err == nil {
			return
		}
		os.Remove(s.path)
		j.total -= size
		j.segs = j.segs[1:]
	}
}

// first returns the oldest seq the journal still holds (or would hold).
func (j *journal) first() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.segs[0].first
}

// JournalStats describes the journal for status output.
type JournalStats struct {
	Dir       string `json:"dir"`
	Bytes     int64  `json:"bytes"`
	Segments  int    `json:"segments"`
	OldestSeq uint64 `json:"oldest_seq"`
	Durable   uint64 `json:"durable_seq"`
	Sync      string `json:"sync"`
	Error     string `json:"error,omitempty"`
}

func (j *journal) stats() *JournalStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := &JournalStats{Dir: j.dir, Bytes: j.total, Segments: len(j.segs), OldestSeq: j.segs[0].first, Durable: j.durable.Load(), Sync: j.opts.Sync.String()}
	if j.failed != nil {
		st.Error = j.failed.Error()
	}
	return st
}

// close writes and fsyncs everything, records that no seq beyond the
// last one was handed out, and releases the directory. Readers may go on
// reading the files.
func (j *journal) close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.mu.Unlock()
	close(j.stop)
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	j.closed = true
	var err error
	if j.failed == nil {
		// A clean stop: the next start continues right after the last
		// record, with no skipped seqs.
		err = j.reserve(j.appended)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.lock.Close()
	j.dmu.Lock()
	j.dcond.Broadcast()
	j.dmu.Unlock()
	return err
}
