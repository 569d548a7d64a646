package kqueue

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/beneath"
	"github.com/notifyfs/notifyfs/internal/relpath"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// Listing directories for the kqueue backend, and the polled regions it
// falls back to beyond its descriptor budget.

// list reads the directory rel: each entry's attributes, by name. The
// directory must be the object d (checked before and after reading), so
// that a listing never speaks for another directory that took its path.
func (k *Backend) list(rel string, d fsobj.Entry) (map[string]fsobj.Entry, error) {
	if err := k.isAt(rel, d); err != nil {
		return nil, err
	}
	fd, err := beneath.Open(k.s.RootFD(), rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, fmt.Errorf("kqueue: list %s: %w", rel, err)
	}
	f := os.NewFile(uintptr(fd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("kqueue: list %s: %w", rel, err)
	}
	ents := make(map[string]fsobj.Entry, len(names))
	for _, name := range names {
		if e, err := fsobj.StatAt(fd, name); err == nil {
			ents[name] = e
		}
	}
	if err := k.isAt(rel, d); err != nil {
		return nil, err
	}
	return ents, nil
}

var errMoved = errors.New("kqshim: another object has that path now")

func (k *Backend) isAt(rel string, want fsobj.Entry) error {
	e, err := k.s.StatRel(rel)
	if err != nil {
		return err
	}
	if !same(e, want) {
		return errMoved
	}
	return nil
}

// handOver turns the directories that could not be covered by
// descriptors into polled regions, shallowest first (a region takes in
// everything below it).
func (k *Backend) handOver() {
	dirs := make([]*node, 0, len(k.uncover))
	for d := range k.uncover {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return fsobj.ShallowerFirst(dirs[i].path(), dirs[j].path()) })
	for _, d := range dirs {
		why := k.uncover[d]
		delete(k.uncover, d)
		if d.region == nil && d.attached(k.root) {
			k.pollFrom(d, why)
		}
	}
}

// pollFrom hands the subtree of d over to polling: its descriptors are
// closed, it is scanned for a baseline, and subscribers are told to
// re-read it (what changed there until now may not have been reported).
func (k *Backend) pollFrom(d *node, why string) {
	for _, kid := range d.kids {
		k.dropTree(kid)
	}
	d.kids = nil
	k.unwatch(d)
	rel := d.path()
	mark := k.s.Mark()
	t, err := k.s.Scan(rel)
	if err != nil {
		t = map[string]fsobj.Entry{}
	}
	r := &region{last: t, mark: mark}
	d.region = r
	k.regions[d] = r
	k.polled.Add(1)
	k.s.Rescan(rel, why+"; polled every "+k.every.String())
}

// pollRegions scans the polled directories, if it is time (or force),
// and reports what changed since their last scan.
func (k *Backend) pollRegions(force bool) {
	if len(k.regions) == 0 || (!force && time.Since(k.lastPoll) < k.every) {
		return
	}
	k.lastPoll = time.Now()
	dirs := make([]*node, 0, len(k.regions))
	for d := range k.regions {
		dirs = append(dirs, d)
	}
	sort.Slice(dirs, func(i, j int) bool { return fsobj.ShallowerFirst(dirs[i].path(), dirs[j].path()) })
	for _, d := range dirs {
		k.pollRegion(d)
	}
}

func (k *Backend) pollRegion(d *node) {
	r := d.region
	rel := d.path()
	mark := k.s.Mark()
	cur, err := k.s.StatRel(rel)
	if err != nil || !same(cur, d.e) {
		return // moved or gone: its directory's notes will say so
	}
	t, err := k.s.Scan(rel)
	if err != nil {
		return
	}
	if cur.Mode != d.e.Mode || cur.UID != d.e.UID || cur.GID != d.e.GID {
		k.s.AttrChanged(rel) // the region's own directory has no descriptor either
	}
	d.e = cur
	for _, ev := range k.s.Diff(r.last, t) {
		ev.Path = relpath.Join(rel, ev.Path)
		if ev.From != "" {
			ev.From = relpath.Join(rel, ev.From)
		}
		if !k.s.InferredEcho(ev) {
			k.s.Emit(ev)
		}
	}
	r.last, r.mark = t, mark
}

// retire spends the mount's announcements whose changes every part of
// the backend has looked past: the queue (drained since queueMark) and each
// polled region (scanned since its mark).
func (k *Backend) retire() {
	m := k.queueMark
	if m == 0 {
		return
	}
	for _, r := range k.regions {
		m = min(m, r.mark)
	}
	k.s.Retire(m)
}
