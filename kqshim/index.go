package kqshim

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// IndexConfig configures the offline index (see doc.go, "Offline
// index").
type IndexConfig struct {
	// Dir is the directory the index is kept in: the journal's, so that
	// index and journal describe the same history.
	Dir string
	// Source is SOURCE's absolute, canonical path.
	Source string
	// Interval is how long a change may wait before the index on disk
	// includes it: what a crash can cost (the changes of that window are
	// reported a second time at the next mount, never lost). It grows to
	// ten times the time a write of the index takes, so that a large
	// tree under constant change is not rewritten back to back. Default
	// 1s.
	Interval time.Duration
	// Logf, if set, receives notices (why the index was not usable).
	Logf func(format string, args ...any)
}

// Index keeps a compact record of SOURCE (path → identity and
// attributes) beside the journal, so that a mount can tell what changed
// while no daemon ran. It follows the event stream rather than rescanning
// SOURCE: the index is what subscribers were told, so a change nobody
// was told of (the watcher off, or not seeing it) is still found at the
// next mount.
type Index struct {
	cfg    IndexConfig
	path   string
	rootfd int
	head   indexHeader // SOURCE's identity; epoch and seq are set when saving
	cur    tree        // touched only by the follow goroutine once Follow ran

	bus   *eventbus.Bus
	sub   *eventbus.Subscription
	dirty map[string]bool // path → the whole subtree must be read again
	stop  chan struct{}
	done  chan struct{}

	start IndexStart
	saved atomic.Uint64 // seq the index on disk covers
	saves atomic.Uint64
	lastD atomic.Int64 // ns the last write took
	err   atomic.Pointer[string]
}

// IndexStart says what the comparison at mount found and what it cost.
type IndexStart struct {
	// Usable is false when there was no index to compare with (first
	// mount, index lost, damaged or of another tree): a rescan of the
	// root was published instead; Reason says why.
	Usable bool   `json:"usable"`
	Reason string `json:"reason,omitempty"`
	// Changes is how many offline events were published.
	Changes int `json:"changes"`
	// LoadMs, ScanMs and DiffMs are the times to read the index, scan
	// SOURCE and compare them.
	LoadMs float64 `json:"load_ms"`
	ScanMs float64 `json:"scan_ms"`
	DiffMs float64 `json:"diff_ms"`
}

// IndexStats describes the index for status output.
type IndexStats struct {
	Start   IndexStart `json:"start"`
	Entries int        `json:"-"`
	// SavedSeq is the last seq the index on disk covers: a daemon killed
	// now reports the changes after it a second time at the next mount.
	SavedSeq   uint64  `json:"saved_seq"`
	Saves      uint64  `json:"saves"`
	LastSaveMs float64 `json:"last_save_ms"`
	Error      string  `json:"error,omitempty"`
}

// OpenIndex reads the index kept at the last run and compares SOURCE
// with it. It returns the changes made meanwhile, as events with origin
// backing and Offline set, for the caller to publish before any other;
// without a usable index, one rescan of the root instead. w, if not nil,
// is the watcher already running: a poll watcher's first scan serves as
// the comparison's, so that no change falls between the two. bus is the
// journal's: what it holds after the index's last write was delivered
// already and is not reported again (index_replay.go).
func OpenIndex(cfg IndexConfig, w *Watcher, bus *eventbus.Bus) (*Index, []*eventbus.Event, error) {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	root, err := unix.Open(cfg.Source, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: open %s: %w", ErrIndex, cfg.Source, err)
	}
	ix := &Index{cfg: cfg, path: filepath.Join(cfg.Dir, IndexFile), rootfd: root, dirty: map[string]bool{}}
	evs, err := ix.compare(w, bus)
	if err != nil {
		unix.Close(root)
		return nil, nil, err
	}
	return ix, evs, nil
}

func (ix *Index) compare(w *Watcher, bus *eventbus.Bus) ([]*eventbus.Event, error) {
	t0 := time.Now()
	h, old, reason := ix.load()
	t1 := time.Now()
	var now tree
	if w != nil {
		now = w.baseline()
	}
	if now == nil {
		var err error
		if now, err = scanWithRoot(ix.rootfd, nil, NetworkFS(ix.cfg.Source) != ""); err != nil {
			return nil, fmt.Errorf("%w: scan %s: %w", ErrIndex, ix.cfg.Source, err)
		}
	}
	rootEntry := now[""]
	ix.head.srcDev, ix.head.srcIno = rootEntry.Dev, rootEntry.Ino
	t2 := time.Now()
	var evs []*eventbus.Event
	if old != nil && !sameObject(old[""], rootEntry) {
		old, reason = nil, "the index describes another directory"
	}
	if old != nil {
		if !replayJournal(bus, h, old, now) && ix.cfg.Logf != nil {
			ix.cfg.Logf("offline index: the journal no longer holds what followed it (seq %d of %s); changes made in the last %v before the daemon stopped may be reported again", h.seq, h.epoch, ix.cfg.Interval)
		}
		evs = diffOf(old, now, inodesFollowPaths(ix.cfg.Source))
		for _, ev := range evs {
			ev.Offline = true
		}
	} else {
		if ix.cfg.Logf != nil {
			ix.cfg.Logf("offline index: %s; publishing a rescan of the whole tree", reason)
		}
		evs = []*eventbus.Event{{Type: eventbus.Rescan, IsDir: true, Origin: eventbus.OriginBacking, Offline: true}}
	}
	t3 := time.Now()
	ix.cur = now
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	ix.start = IndexStart{Usable: old != nil, Reason: reason, Changes: len(evs),
		LoadMs: ms(t1.Sub(t0)), ScanMs: ms(t2.Sub(t1)), DiffMs: ms(t3.Sub(t2))}
	if old == nil {
		ix.start.Changes = 0
	}
	return evs, nil
}

// load reads the saved index; nil and why when there is none to use.
func (ix *Index) load() (indexHeader, tree, string) {
	b, err := os.ReadFile(ix.path)
	if errors.Is(err, fs.ErrNotExist) {
		return indexHeader{}, nil, "no index (first mount here, or it was removed)"
	}
	if err != nil {
		return indexHeader{}, nil, err.Error()
	}
	h, t, err := decodeIndex(b)
	if err != nil {
		return indexHeader{}, nil, err.Error()
	}
	if _, ok := t[""]; !ok {
		return indexHeader{}, nil, fmt.Sprintf("%v: damaged (no root)", ErrIndex)
	}
	ix.saved.Store(h.seq)
	return h, t, ""
}

// Follow keeps the index current from bus's events from now on (call it
// right after publishing the offline events) and writes it at most
// Interval after a change. It writes it once at once, so that the next
// mount compares with this one's starting point even if this daemon
// never gets to write it again.
func (ix *Index) Follow(bus *eventbus.Bus) error {
	sub, err := bus.Subscribe("offline-index", eventbus.Filter{}, nil)
	if err != nil {
		return err
	}
	ix.bus, ix.sub = bus, sub
	ix.stop, ix.done = make(chan struct{}), make(chan struct{})
	go ix.follow()
	return nil
}

// follow applies the stream to the index, writing it when a change has
// waited an interval, and a last time when told to stop.
//
// It wakes for the first change after a write and then not again until
// the write is due: the events in between wait in the bus (ring or
// journal) and are taken in one batch. Waking for each event as it came
// cost every operation on the mount a thread wake-up in the daemon for a
// file nobody reads before the interval is up.
func (ix *Index) follow() {
	defer close(ix.done)
	var buf []*eventbus.Event
	var timer <-chan time.Time
	due := false
	pos := ix.sub.StartSeq()
	ix.save(pos)
	for {
		var done bool
		buf, pos, done = ix.sub.Take(buf[:0], 4096)
		for _, ev := range buf {
			ix.mark(ev)
		}
		if len(ix.dirty) > 0 && timer == nil && !due {
			wait := max(ix.cfg.Interval, 10*time.Duration(ix.lastD.Load()))
			timer = time.After(wait)
		}
		if len(buf) > 0 {
			continue
		}
		if done {
			ix.save(pos)
			return
		}
		if due {
			// Everything published until the timer fired is marked.
			due = false
			ix.save(pos)
			continue
		}
		ready := ix.sub.Ready()
		if timer != nil {
			ready = nil // a write is due anyway: take what comes then
		}
		select {
		case <-ready:
		case <-timer:
			timer, due = nil, true
		case <-ix.stop:
			ix.drain(pos)
			return
		}
	}
}

// drain takes every event published so far and writes the index.
func (ix *Index) drain(pos uint64) {
	target := ix.bus.Seq()
	deadline := time.After(5 * time.Second)
	var buf []*eventbus.Event
	for pos < target {
		var done bool
		buf, pos, done = ix.sub.Take(buf[:0], 4096)
		for _, ev := range buf {
			ix.mark(ev)
		}
		if done || len(buf) > 0 {
			continue
		}
		select {
		case <-ix.sub.Ready():
		case <-deadline:
			ix.setErr(fmt.Sprintf("stopped at seq %d of %d", pos, target))
			target = pos
		}
	}
	ix.save(pos)
}

// mark records what an event says must be read again: the object, or
// for what can carry contents (a directory made, moved or removed, a
// rescan) the whole subtree.
func (ix *Index) mark(ev *eventbus.Event) {
	switch ev.Type {
	case eventbus.Unmount:
	case eventbus.Overflow, eventbus.Reset:
		ix.dirty[""] = true // our own subscription lost events: read it all
	case eventbus.Rescan, eventbus.Rmdir, eventbus.Mkdir:
		ix.dirty[ev.Path] = true
	case eventbus.Rename:
		ix.dirty[ev.Path] = true
		ix.dirty[ev.From] = true
	default:
		if !ix.dirty[ev.Path] {
			ix.dirty[ev.Path] = false
		}
		if ev.From != "" && !ix.dirty[ev.From] {
			ix.dirty[ev.From] = false
		}
	}
}

// save reads again what is dirty and writes the index as covering seq.
func (ix *Index) save(seq uint64) {
	t0 := time.Now()
	ix.refresh()
	ix.head.epoch, ix.head.seq = ix.bus.Epoch(), seq
	if err := writeFileAtomic(ix.path, encodeIndex(ix.head, ix.cur)); err != nil {
		ix.setErr(err.Error())
		if ix.cfg.Logf != nil {
			ix.cfg.Logf("offline index: %v", err)
		}
		return
	}
	ix.saved.Store(seq)
	ix.saves.Add(1)
	ix.lastD.Store(int64(time.Since(t0)))
}

func (ix *Index) setErr(s string) { ix.err.Store(&s) }

// refresh brings the dirty paths of cur up to date with SOURCE.
func (ix *Index) refresh() {
	if len(ix.dirty) == 0 {
		return
	}
	if ix.dirty[""] {
		if t, err := scanWithRoot(ix.rootfd, nil, false); err == nil {
			ix.cur = t
		}
		ix.dirty = map[string]bool{}
		return
	}
	var subtrees []string
	for p, whole := range ix.dirty {
		if whole {
			subtrees = append(subtrees, p)
		}
	}
	if len(subtrees) > 0 {
		gone := map[string]bool{}
		for _, p := range subtrees {
			gone[p] = true
		}
		for p := range ix.cur {
			for q := p; q != ""; q = parentOf(q) {
				if gone[q] {
					delete(ix.cur, p)
					break
				}
			}
		}
	}
	for p, whole := range ix.dirty {
		e, err := statBeneath(ix.rootfd, p)
		if err != nil {
			delete(ix.cur, p)
			continue
		}
		ix.cur[p] = e
		if whole && e.IsDir() {
			if t, err := scanUntil(ix.rootfd, p, nil); err == nil {
				for q, e := range t {
					ix.cur[p+"/"+q] = e
				}
			}
		}
	}
	ix.dirty = map[string]bool{}
}

func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Stats describes the index for status output.
func (ix *Index) Stats() *IndexStats {
	st := &IndexStats{Start: ix.start, SavedSeq: ix.saved.Load(), Saves: ix.saves.Load(),
		LastSaveMs: float64(ix.lastD.Load()/1000) / 1000}
	if e := ix.err.Load(); e != nil {
		st.Error = *e
	}
	return st
}

// Close writes the index a last time, covering every event published
// before the call, and stops following. Call it once nothing publishes
// any more (watcher and filesystem closed) and before the bus closes.
func (ix *Index) Close() error {
	if ix.stop != nil {
		close(ix.stop)
		<-ix.done
		ix.sub.Close()
	}
	unix.Close(ix.rootfd)
	if e := ix.err.Load(); e != nil {
		return fmt.Errorf("%w: %s", ErrIndex, *e)
	}
	return nil
}

// baseline is a copy of the first scan of a poll watcher (nil for the
// other backends): the state the watcher reports changes from.
func (w *Watcher) baseline() tree {
	if p, ok := w.b.(*pollBackend); ok {
		return maps.Clone(p.first)
	}
	return nil
}
