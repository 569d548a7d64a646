package kqshim

import (
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
)

func mustScan(t *testing.T, root string) tree {
	t.Helper()
	fd, err := syscall.Open(root, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	tr, err := scan(fd, "")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// describe renders events as "type path [<- from]; ...", the form every
// test of the package compares.
func describe(evs []*eventbus.Event) string {
	var b []string
	for _, e := range evs {
		b = append(b, eventLine(e))
	}
	return strings.Join(b, "; ")
}

func eventLine(e *eventbus.Event) string {
	s := e.Type.String() + " " + e.Path
	if e.From != "" {
		s += " <- " + e.From
	}
	return s
}

// Each change made directly on a tree between two scans is reported once,
// as what it was.
func TestDiffOfScans(t *testing.T) {
	root := t.TempDir()
	p := func(rel string) string { return filepath.Join(root, rel) }
	os.MkdirAll(p("keep/sub"), 0o755)
	os.WriteFile(p("keep/sub/a"), []byte("a"), 0o644)
	os.WriteFile(p("edit"), []byte("1"), 0o644)
	os.WriteFile(p("mode"), nil, 0o644)
	os.WriteFile(p("gone"), nil, 0o644)
	os.Mkdir(p("gonedir"), 0o755)
	os.WriteFile(p("gonedir/x"), nil, 0o644)
	os.WriteFile(p("mv"), nil, 0o644)
	os.WriteFile(p("replace"), []byte("old"), 0o644)
	before := mustScan(t, root)

	os.Rename(p("keep"), p("kept"))                    // directory move: one rename
	os.WriteFile(p("kept/sub/a"), []byte("aa"), 0o644) // and a write inside it
	os.WriteFile(p("edit"), []byte("12"), 0o644)
	os.Chmod(p("mode"), 0o600)
	os.Remove(p("gone"))
	os.RemoveAll(p("gonedir"))
	os.Rename(p("mv"), p("moved"))
	os.Remove(p("replace"))
	os.WriteFile(p("replace"), []byte("new"), 0o644)
	os.Mkdir(p("newdir"), 0o755)
	os.WriteFile(p("newdir/f"), nil, 0o644)
	os.Symlink("edit", p("ln"))
	after := mustScan(t, root)

	got := describe(diff(before, after))
	want := "rename kept <- keep; rename moved <- mv; " +
		"remove gonedir/x; remove gone; rmdir gonedir; remove replace; " +
		"symlink ln; mkdir newdir; create replace; create newdir/f; " +
		"write edit; write kept/sub/a; chmod mode"
	if got != want {
		t.Errorf("diff:\n got %s\nwant %s", got, want)
	}
	for _, e := range diff(before, after) {
		if e.Origin != eventbus.OriginBacking || !e.HasAttr {
			t.Errorf("%s %s: origin %v attrs %v", e.Type, e.Path, e.Origin, e.HasAttr)
		}
	}
	if evs := diff(after, after); len(evs) != 0 {
		t.Errorf("no change, yet: %s", describe(evs))
	}
}

// A new hard link is a new name, not a move, and names the old one.
func TestDiffHardLinkIsLink(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "a"), nil, 0o644)
	before := mustScan(t, root)
	os.Link(filepath.Join(root, "a"), filepath.Join(root, "b"))
	if got := describe(diff(before, mustScan(t, root))); got != "link b <- a" {
		t.Errorf("got %s", got)
	}
}

// A file removed and another created in its place usually gets the freed
// inode number; that is not a rename.
func TestDiffReusedInodeIsNotARename(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	os.WriteFile(a, []byte("x"), 0o644)
	before := mustScan(t, root)
	os.Remove(a)
	os.WriteFile(b, []byte("y"), 0o644)
	after := mustScan(t, root)
	if got := describe(diff(before, after)); got != "remove a; create b" {
		t.Errorf("got %s (inodes %d, %d)", got, before["a"].Ino, after["b"].Ino)
	}
}

// A scan never leaves the tree: a directory swapped for a symlink to
// somewhere else is recorded as the symlink, and nothing beyond it.
func TestScanDoesNotFollowSymlinks(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(outside, "secret"), 0o755)
	os.MkdirAll(root, 0o755)
	os.Symlink(outside, filepath.Join(root, "link"))
	tr := mustScan(t, root)
	if _, ok := tr["link/secret"]; ok || len(tr) != 1 {
		t.Errorf("scan went through a symlink: %v", fsobj.SortedKeys(tr))
	}
	if e := tr["link"]; e.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		t.Errorf("link recorded as mode %o", e.Mode)
	}
}

// The sink describes objects through SOURCE's descriptor: a path through
// a symlink to somewhere else describes nothing.
func TestStatRelStaysBeneath(t *testing.T) {
	base := t.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	os.MkdirAll(filepath.Join(outside), 0o755)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o600)
	os.MkdirAll(filepath.Join(root, "dir"), 0o755)
	os.WriteFile(filepath.Join(root, "dir", "mine"), []byte("m"), 0o600)
	os.Symlink(outside, filepath.Join(root, "link"))
	s := newSink(root, Config{})
	defer s.close()
	if _, err := s.statRel("link/secret"); err == nil {
		t.Error("stat through a symlink to outside SOURCE succeeded")
	}
	if e, err := s.statRel("dir/mine"); err != nil || e.Size != 1 {
		t.Errorf("stat of dir/mine: %+v %v", e, err)
	}
}

// Without birth times (sshfs, NFSv3) an object is still told by its
// inode, never by its mtime: a write in place is a write and a rename
// that also bumped the mtime is a rename, not remove and create.
func TestDiffWithoutBirthTimes(t *testing.T) {
	const reg = syscall.S_IFREG | 0o644
	old := tree{
		"f":  {Ino: 5, Dev: 1, Mode: reg, Size: 2, Mtime: 100, Ctime: 100, Nlink: 1},
		"mv": {Ino: 7, Dev: 1, Mode: reg, Size: 1, Mtime: 100, Ctime: 100, Nlink: 1},
		"ty": {Ino: 9, Dev: 1, Mode: reg, Size: 1, Mtime: 100, Ctime: 100, Nlink: 1},
	}
	new := tree{
		"f":   {Ino: 5, Dev: 1, Mode: reg, Size: 4, Mtime: 200, Ctime: 200, Nlink: 1},
		"mv2": {Ino: 7, Dev: 1, Mode: reg, Size: 3, Mtime: 200, Ctime: 200, Nlink: 1},
		// The same number with another type: replaced, whatever the times.
		"ty": {Ino: 9, Dev: 1, Mode: syscall.S_IFDIR | 0o755, Mtime: 100, Ctime: 100, Nlink: 2},
	}
	got := describe(diff(old, new))
	want := "rename mv2 <- mv; remove ty; mkdir ty; write f; write mv2"
	if got != want {
		t.Errorf("diff:\n got  %s\n want %s", got, want)
	}
}

// Where inode numbers follow paths (sshfs), a rename changes the number:
// it is recognised by the attributes a rename keeps, each pair unique.
func TestDiffPathInodes(t *testing.T) {
	const reg, dir = syscall.S_IFREG | 0o644, syscall.S_IFDIR | 0o755
	old := tree{
		"f": {Ino: 2, Mode: reg, Size: 3, Mtime: 100},
		"d": {Ino: 3, Mode: dir, Size: 4096, Mtime: 50}, "d/a": {Ino: 4, Mode: reg, Size: 1, Mtime: 60},
		"x": {Ino: 8, Mode: reg, Size: 1, Mtime: 70}, "y": {Ino: 9, Mode: reg, Size: 1, Mtime: 70},
	}
	new := tree{
		"g": {Ino: 5, Mode: reg, Size: 3, Mtime: 100},
		"e": {Ino: 6, Mode: dir, Size: 4096, Mtime: 50}, "e/a": {Ino: 7, Mode: reg, Size: 1, Mtime: 60},
		// Two alike: which went where cannot be told, so no rename.
		"x2": {Ino: 10, Mode: reg, Size: 1, Mtime: 70}, "y2": {Ino: 11, Mode: reg, Size: 1, Mtime: 70},
	}
	want := "rename e <- d; rename g <- f; remove x; remove y; create x2; create y2"
	if got := describe(diffOf(old, new, true)); got != want {
		t.Errorf("diff:\n got  %s\n want %s", got, want)
	}
	if got := describe(diffOf(old, new, false)); strings.Contains(got, "rename") {
		t.Errorf("stable inode numbers, yet paired by attributes: %s", got)
	}
}
