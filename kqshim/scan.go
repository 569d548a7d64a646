package kqshim

import (
	"errors"
	"os"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/internal/beneath"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// entry is what a scan records of one object (fsobj.Entry).
type entry = fsobj.Entry

// sameObject tells whether two stats are of one object: same inode
// number, device and type, and — since file systems hand a freed inode
// number to the next new file at once — the same birth time where both
// have one.
//
// Without birth times (sshfs, NFSv3, SMB without them) the object is
// taken to be the same unless there is evidence of a replacement (the
// type changed). It is never told by its mtime: an in-place write
// changes the mtime of the very same object, and reading it as a
// replacement turned every edit on a network share into remove, create
// and write. The cost is documented (doc.go, Limits): with no birth
// time, a file removed and another created with its recycled inode
// number between two scans reads as one object.
func sameObject(a, b entry) bool {
	if a.Ino != b.Ino || a.Mode&syscall.S_IFMT != b.Mode&syscall.S_IFMT {
		return false
	}
	if a.Dev != 0 && b.Dev != 0 && a.Dev != b.Dev {
		return false
	}
	if a.Birth != 0 && b.Birth != 0 {
		return a.Birth == b.Birth
	}
	return true
}

// tree is a scan of SOURCE: relative path → entry (the root is not in
// it).
type tree map[string]entry

// scan walks the directory rel beneath the descriptor root (SOURCE's)
// without following symlinks. Entries that vanish while it walks are left
// out: made and removed between two scans, they left no trace to report.
func scan(root int, rel string) (tree, error) { return scanUntil(root, rel, nil) }

// errScanStopped: scanUntil was told to stop.
var errScanStopped = errors.New("kqshim: scan stopped")

// scanUntil is scan that gives up (errScanStopped) once stop is closed:
// a scan of a large tree can take seconds, and shutdown must not wait.
//
// It walks by descriptors: the directory is opened beneath root
// (internal/beneath: no symlink anywhere on the way), every entry is
// stat'ed and every directory opened relative to its parent's
// descriptor, never following a symlink (O_NOFOLLOW), so a directory
// swapped for a symlink while the scan runs cannot take it outside.
func scanUntil(root int, rel string, stop <-chan struct{}) (tree, error) {
	return scanFresh(root, rel, stop, false)
}

// scanFresh is scanUntil that, with fresh, has every stat bypass the
// attribute cache of a network filesystem (AT_STATX_FORCE_SYNC: NFS,
// SMB and FUSE ask the server). A scan of SOURCE on NFS otherwise sees
// the client's cached attributes, up to actimeo old, and misses what
// changed on the server meanwhile.
func scanFresh(root int, rel string, stop <-chan struct{}, fresh bool) (tree, error) {
	fd, err := beneath.Open(root, rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: rel, Err: err}
	}
	t := tree{}
	err = scanDir(fd, "", t, scanOpts{stop: stop, fresh: fresh})
	return t, err
}

// scanOpts are what every level of a scan is told.
type scanOpts struct {
	stop  <-chan struct{}
	fresh bool // see scanFresh
}

// scanDir records the entries of the directory dirfd (whose path is rel)
// and everything below them; it closes dirfd.
func scanDir(dirfd int, rel string, t tree, o scanOpts) error {
	f := os.NewFile(uintptr(dirfd), rel)
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil && len(names) == 0 {
		return nil // gone or unreadable while scanning: its parent's entry says what is left
	}
	for _, name := range names {
		select {
		case <-o.stop:
			return errScanStopped
		default:
		}
		e, err := fsobj.StatFresh(dirfd, name, o.fresh)
		if err != nil {
			continue
		}
		p := name
		if rel != "" {
			p = rel + "/" + name
		}
		t[p] = e
		if !e.IsDir() {
			continue
		}
		sub, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if err := scanDir(sub, p, t, o); err != nil {
			return err
		}
	}
	return nil
}

// diff lists the changes that turn scan old into scan new, as events with
// origin backing (seq and time are the bus's to assign). What happened
// between two scans is inferred, so the order within one diff is a
// plausible one, not the observed one: renames, then removals (deepest
// first), then creations (shallowest first), then changes in place.
//
//   - The same inode under a new name, its old name gone: rename. A
//     directory's move carries its contents; only the directory is
//     reported.
//   - A new name: create, mkdir, symlink or mknod. A missing name:
//     remove or rmdir. A name whose inode changed was replaced: remove,
//     then create.
//   - The same object with another size or mtime: write (a scan cannot
//     tell a truncate from a rewrite); another mode: chmod; another
//     owner: chown.
func diff(old, new tree) []*eventbus.Event { return diffOf(old, new, false) }

// diffOf is diff for a SOURCE whose inode numbers may follow the path
// rather than the object (pathInodes: sshfs, whose protocol carries no
// inode numbers, numbers objects by path). There a rename shows as a
// removed and a created name with different numbers; such a pair is
// taken for a rename when everything else a rename keeps (type, size,
// mtime, mode, owner) matches and no other removed or created name
// matches it too.
func diffOf(fullOld, fullNew tree, pathInodes bool) []*eventbus.Event {
	// Everything below looks only at names whose entry differs between
	// the scans: at mount, the offline diff of a 100k tree is mostly
	// identical entries, and each pass over it costs a map lookup per
	// name. (A rename's both names, a moved directory's contents, a
	// replaced name all differ.) Only a new hard link's existing name is
	// looked up in the full scans.
	old, new := differing(fullOld, fullNew)
	moves := findMoves(old, new)
	if pathInodes {
		pairByAttributes(old, new, moves)
	}
	var evs []*eventbus.Event
	for _, to := range fsobj.SortedKeys(moves) {
		ev := event(eventbus.Rename, to, moves[to], new[to])
		if o, ok := old[to]; ok && !sameObject(o, new[to]) {
			ev.Replaced = true
		}
		evs = append(evs, ev)
	}

	var removed, created []string
	for p, o := range old {
		if n, ok := new[p]; ok && sameObject(o, n) {
			continue
		}
		if _, moved := moves.newName(p); moved {
			continue
		}
		if _, replaced := moves[p]; replaced {
			continue // the rename that replaced it says so
		}
		removed = append(removed, p)
	}
	for p, n := range new {
		if o, ok := old[p]; ok && sameObject(o, n) {
			continue
		}
		if _, moved := moves.oldName(p); !moved {
			created = append(created, p)
		}
	}
	sort.Slice(removed, func(i, j int) bool { return fsobj.DeeperFirst(removed[i], removed[j]) })
	sortShallowFirst(created)
	for _, p := range removed {
		t := eventbus.Remove
		if old[p].IsDir() {
			t = eventbus.Rmdir
		}
		evs = append(evs, event(t, p, "", old[p]))
	}
	for _, p := range created {
		n := new[p]
		if from, ok := otherName(fullOld, fullNew, p, n); ok {
			evs = append(evs, event(eventbus.Link, p, from, n))
			continue
		}
		evs = append(evs, event(createType(n), p, "", n))
	}

	for _, p := range fsobj.SortedKeys(new) {
		n := new[p]
		was, ok := moves.oldName(p)
		if !ok {
			was = p
		}
		o, ok := old[was]
		if !ok || !sameObject(o, n) {
			continue
		}
		if !n.IsDir() && (n.Size != o.Size || n.Mtime != o.Mtime) {
			evs = append(evs, event(dataChange(o, n), p, "", n))
		}
		if n.Mode != o.Mode {
			evs = append(evs, event(eventbus.Chmod, p, "", n))
		}
		if n.UID != o.UID || n.GID != o.GID {
			evs = append(evs, event(eventbus.Chown, p, "", n))
		}
		if n.Ctime != o.Ctime && n.Mode == o.Mode && n.UID == o.UID && n.GID == o.GID &&
			n.Size == o.Size && n.Mtime == o.Mtime && n.Nlink == o.Nlink && was == p {
			// Only the change time moved: an extended attribute.
			evs = append(evs, event(eventbus.Setxattr, p, "", n))
		}
	}
	return evs
}

// differing returns the parts of old and new whose names are not in
// both with identical entries.
func differing(old, new tree) (tree, tree) {
	od, nd := tree{}, tree{}
	for p, n := range new {
		if o, ok := old[p]; !ok || o != n {
			nd[p] = n
		}
	}
	for p, o := range old {
		if n, ok := new[p]; !ok || o != n {
			od[p] = o
		}
	}
	return od, nd
}

// dataChange types a change of size or mtime. A write sets mtime and
// ctime to the same instant; a time set by utimes leaves them apart
// (and the size as it was).
func dataChange(o, n entry) eventbus.Type {
	switch {
	case n.Size < o.Size:
		return eventbus.Truncate
	case n.Size == o.Size && n.Mtime != n.Ctime:
		return eventbus.Utimes
	}
	return eventbus.Write
}

// otherName finds, for a new non-directory name with more than one link,
// a name the same object already had: the new name is a hard link.
func otherName(old, new tree, p string, n entry) (string, bool) {
	if n.IsDir() || n.Nlink < 2 {
		return "", false
	}
	for q, o := range old {
		if q != p && sameObject(o, n) {
			if still, ok := new[q]; ok && sameObject(still, n) {
				return q, true
			}
		}
	}
	return "", false
}

// moveSet maps the new name of each moved object to its old name; only
// the topmost moves are in it (a moved directory's contents follow it).
type moveSet map[string]string

// findMoves pairs names by inode: an inode that kept its type, lost its
// old name and has a new one was renamed.
func findMoves(old, new tree) moveSet {
	oldByIno := make(map[uint64]string, len(old))
	for p, e := range old {
		oldByIno[e.Ino] = p
	}
	all := moveSet{}
	for p, n := range new {
		if o, ok := old[p]; ok && sameObject(o, n) {
			continue
		}
		from, ok := oldByIno[n.Ino]
		if !ok || !sameObject(old[from], n) {
			continue
		}
		if still, ok := new[from]; ok && still.Ino == n.Ino {
			continue // a new hard link, not a move
		}
		all[p] = from
	}
	top := moveSet{}
	for to, from := range all {
		if !impliedByParent(to, from, all) {
			top[to] = from
		}
	}
	return top
}

// pairByAttributes adds to moves the renames that inode numbers cannot
// show (see diffOf): a removed and a created name alike in every
// attribute a rename keeps, each the only one of its side so alike.
func pairByAttributes(old, new tree, moves moveSet) {
	type print struct {
		mode, uid, gid uint32
		size, mtime    int64
	}
	fp := func(e entry) print { return print{e.Mode, e.UID, e.GID, e.Size, e.Mtime} }
	removed := map[print][]string{}
	for p, o := range old {
		if _, ok := new[p]; ok || p == "" {
			continue
		}
		if _, moved := moves.newName(p); !moved {
			removed[fp(o)] = append(removed[fp(o)], p)
		}
	}
	created := map[print][]string{}
	for p, n := range new {
		if _, ok := old[p]; ok {
			continue
		}
		if _, moved := moves.oldName(p); !moved {
			created[fp(n)] = append(created[fp(n)], p)
		}
	}
	var pairs [][2]string
	for k, to := range created {
		if from := removed[k]; len(from) == 1 && len(to) == 1 {
			pairs = append(pairs, [2]string{to[0], from[0]})
		}
	}
	// Shallowest first: a moved directory's contents pair too, and are
	// then carried by it rather than reported.
	sort.Slice(pairs, func(i, j int) bool { return fsobj.ShallowerFirst(pairs[i][0], pairs[j][0]) })
	for _, pr := range pairs {
		if _, carried := moves.oldName(pr[0]); !carried {
			moves[pr[0]] = pr[1]
		}
	}
}

// impliedByParent: some moved directory carried (from → to) along.
func impliedByParent(to, from string, all moveSet) bool {
	for pto, pfrom := range all {
		if rest, ok := strings.CutPrefix(to, pto+"/"); ok && from == pfrom+"/"+rest {
			return true
		}
	}
	return false
}

// oldName maps a new path to the name it had before the moves.
func (m moveSet) oldName(p string) (string, bool) {
	for to, from := range m {
		if p == to {
			return from, true
		}
		if rest, ok := strings.CutPrefix(p, to+"/"); ok {
			return from + "/" + rest, true
		}
	}
	return "", false
}

// newName maps an old path to the name it has after the moves.
func (m moveSet) newName(p string) (string, bool) {
	for to, from := range m {
		if p == from {
			return to, true
		}
		if rest, ok := strings.CutPrefix(p, from+"/"); ok {
			return to + "/" + rest, true
		}
	}
	return "", false
}

func sortShallowFirst(ps []string) {
	sort.Slice(ps, func(i, j int) bool { return fsobj.ShallowerFirst(ps[i], ps[j]) })
}

func createType(e entry) eventbus.Type {
	switch e.Mode & syscall.S_IFMT {
	case syscall.S_IFREG:
		return eventbus.Create
	case syscall.S_IFDIR:
		return eventbus.Mkdir
	case syscall.S_IFLNK:
		return eventbus.Symlink
	}
	return eventbus.Mknod
}

func event(t eventbus.Type, path, from string, e entry) *eventbus.Event {
	return &eventbus.Event{
		Type: t, Path: path, From: from, Origin: eventbus.OriginBacking,
		IsDir: e.IsDir(), HasAttr: true, Ino: e.Ino, Mode: e.Mode, Size: e.Size,
	}
}
