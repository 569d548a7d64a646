package eventbus

import (
	"bufio"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// journal is the append-only store behind a Bus, split the way etcd's
// wal is: the on-disk format (journal_segment.go), appending
// (journal_encoder.go), reading records back (journal_decoder.go),
// recovery at open (journal_recover.go), the sync schedule and the wait
// for durability (journal_sync.go), retention (journal_retention.go),
// and a subscriber's reader (journal_reader.go).
//
// # Locking
//
// One lock, mu, guards every field below it, and durable is written
// only with mu held or by the syncer, which then broadcasts under mu.
// The only other lock involved is Bus.mu, and the order is always Bus.mu
// before mu: appends happen under Bus.mu (so in seq order) and take mu;
// the bus asks first() and stats() the same way. Nothing in the journal
// takes Bus.mu while it holds mu (onDurable, which does, is called with
// mu released). Waiting for durability is a sync.Cond on mu itself, so a
// waiter and close can never hold two locks in opposite orders (they
// once did, with a second lock for the condition: a deadlock when a
// failing SyncAlways journal was closed while publishers waited).
//
// fsyncs happen on the syncer goroutine without holding mu, so
// publishers keep appending while the disk works and the next fsync
// covers them all.
type journal struct {
	opts  JournalOptions
	dir   string
	dirf  *os.File // the checked directory: files are created through it
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
	// While failed, lostFrom is the first seq that may not be on disk;
	// once recording again, restoredFrom is the first that is. lastTry
	// paces the attempts to resume.
	lostFrom, restoredFrom uint64
	lastTry                time.Time
	// failing mirrors failed != nil for the bus, which reads it without
	// mu (deliverableLocked): a failed SyncAlways journal must not hold
	// delivery back.
	failing atomic.Bool
	// notice is a durability notice for the bus to publish (notice*);
	// onNotice asks it to, from the syncer.
	notice   atomic.Int32
	onNotice func()

	// durable is the last seq on disk; read without mu by the bus (an
	// atomic), changed by syncNow. Waiters for it sleep on dcond, whose
	// lock is mu.
	durable atomic.Uint64
	dcond   sync.Cond

	// onDurable is called after each fsync (SyncAlways: the bus then
	// hands the newly durable events to subscribers).
	onDurable func()

	kick chan struct{}
	// asleep: the syncer found nothing waiting and sleeps until an
	// append sends on wake (both under mu).
	asleep bool
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

// openJournal opens or creates the journal in o.Dir, repairing a torn
// tail. It returns the next seq to assign.
func openJournal(o JournalOptions) (*journal, uint64, error) {
	o.setDefaults()
	dirf, err := openJournalDir(o.Dir)
	if err != nil {
		return nil, 0, err
	}
	j := &journal{opts: o, dir: o.Dir, dirf: dirf, kick: make(chan struct{}, 1), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	j.dcond.L = &j.mu
	if err := j.takeLock(); err != nil {
		dirf.Close()
		return nil, 0, err
	}
	next, err := j.recover()
	if err == nil && o.Sync == SyncAlways {
		// SyncAlways reserves nothing ahead (nobody sees a seq before it
		// is on disk), but the file must exist: its absence is how a
		// restart learns that the journal's state was lost.
		err = j.reserve(max(j.reserved, next-1))
	}
	if err == nil {
		err = j.startSegment(next)
	}
	if err != nil {
		j.lock.Close()
		dirf.Close()
		return nil, 0, err
	}
	j.appended, j.written = next-1, next-1
	j.durable.Store(next - 1)
	j.applyRetention()
	go j.syncLoop()
	return j, next, nil
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
	// Error is why the journal is not recording (empty while it is);
	// DurabilityLostFrom is then the first seq that may not be on disk.
	Error              string `json:"error,omitempty"`
	DurabilityLostFrom uint64 `json:"durability_lost_from,omitempty"`
}

func (j *journal) stats() *JournalStats {
	j.mu.Lock()
	defer j.mu.Unlock()
	st := &JournalStats{Dir: j.dir, Bytes: j.total, Segments: len(j.segs), OldestSeq: j.segs[0].first, Durable: j.durable.Load(), Sync: j.opts.Sync.String()}
	if j.failed != nil {
		st.Error = j.failed.Error()
		st.DurabilityLostFrom = j.lostFrom
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
	j.dirf.Close()
	j.dcond.Broadcast() // waiters give up on a closed journal
	return err
}
