package kqueue

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/kqshim/internal/fsobj"
)

// The kqueue translation is tested here on any system: changes are made
// for real in a temporary tree, and a fake source hands the translation
// the notes the kernel posts for them, in every order and split between
// reads and between drains of the queue. The fake keeps no tree of its
// own: like the kernel, it knows the objects behind its descriptors and
// finds where they are (F_GETPATH) by their identity on disk.

// fake is a Source over a real directory tree.
type fake struct {
	mu      sync.Mutex
	places  []string // where objects may be: SOURCE, then outside it
	getpath bool     // macOS: where tells the path; FreeBSD: it cannot
	next    Handle
	objs    map[Handle]fsobj.Entry
	queue   [][]Note
	wake    chan struct{}
	closed  bool
}

func newFake(getpath bool, places ...string) *fake {
	return &fake{places: places, getpath: getpath, objs: map[Handle]fsobj.Entry{}, wake: make(chan struct{}, 1)}
}

// find is where an object is now (the first of its names).
func (f *fake) find(id fsobj.Entry) (string, fsobj.Entry, bool) {
	var found string
	var at fsobj.Entry
	for _, top := range f.places {
		filepath.WalkDir(top, func(p string, _ fs.DirEntry, err error) error {
			if err != nil || found != "" {
				return filepath.SkipDir
			}
			if e, err := fsobj.Stat(p); err == nil && same(e, id) {
				found, at = p, e
				return filepath.SkipAll
			}
			return nil
		})
		if found != "" {
			return found, at, true
		}
	}
	return "", fsobj.Entry{}, false
}

func (f *fake) open(dir Handle, name string) (Handle, fsobj.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := name
	if dir != NoHandle {
		id, ok := f.objs[dir]
		if !ok {
			return NoHandle, fsobj.Entry{}, syscall.EBADF
		}
		d, _, ok := f.find(id)
		if !ok {
			return NoHandle, fsobj.Entry{}, syscall.ENOENT
		}
		p = filepath.Join(d, name)
	}
	e, err := fsobj.Stat(p)
	switch {
	case err != nil:
		return NoHandle, fsobj.Entry{}, err
	case e.Mode&syscall.S_IFMT == syscall.S_IFLNK:
		return NoHandle, fsobj.Entry{}, syscall.ELOOP // O_NOFOLLOW
	case !watchable(e):
		return NoHandle, fsobj.Entry{}, errUnwatchable
	}
	f.next++
	f.objs[f.next] = e
	return f.next, e, nil
}

func (f *fake) forget(h Handle) {
	f.mu.Lock()
	delete(f.objs, h)
	f.mu.Unlock()
}

// push queues one read's worth of notes.
func (f *fake) push(notes []Note) {
	f.mu.Lock()
	f.queue = append(f.queue, notes)
	f.mu.Unlock()
	f.interrupt()
}

// read hands out one pushed batch per call. Notes of a descriptor closed
// since are gone, as closing a descriptor takes them off a kqueue.
func (f *fake) read(timeout time.Duration) ([]Note, error) {
	for {
		f.mu.Lock()
		if len(f.queue) > 0 {
			batch := f.queue[0]
			f.queue = f.queue[1:]
			var kept []Note
			for _, n := range batch {
				if _, open := f.objs[n.h]; open {
					kept = append(kept, n)
				}
			}
			f.mu.Unlock()
			if len(kept) == 0 {
				continue
			}
			return kept, nil
		}
		f.mu.Unlock()
		if timeout == 0 {
			return nil, nil
		}
		var expire <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			expire = t.C
		}
		select {
		case <-f.wake:
			timeout = 0 // look once more, then return
		case <-expire:
			return nil, nil
		}
	}
}

func (f *fake) interrupt() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fake) where(h Handle) (string, uint32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.objs[h]
	if !ok {
		return "", 0, syscall.EBADF
	}
	p, e, ok := f.find(id)
	if !ok {
		return "", 0, nil // deleted: no name left
	}
	if !f.getpath {
		p = ""
	}
	return p, e.Nlink, nil
}

func (f *fake) close() error {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	return nil
}

func (f *fake) handles() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.objs)
}

// fixture is a temporary SOURCE (and a place outside it) watched by the
// translation through a fake; what it publishes is collected.
type fixture struct {
	t    *testing.T
	root string
	out  string
	src  *fake
	k    *Backend
	sink TestSink

	mu  sync.Mutex
	evs []*eventbus.Event
}

func newFixture(t *testing.T, getpath bool) *fixture {
	t.Helper()
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{t: t, root: filepath.Join(base, "src"), out: filepath.Join(base, "out")}
	fx.must(os.Mkdir(fx.root, 0o755))
	fx.must(os.Mkdir(fx.out, 0o755))
	fx.src = newFake(getpath, fx.root, fx.out)
	return fx
}

func (fx *fixture) must(err error) {
	fx.t.Helper()
	if err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) publish(ev *eventbus.Event) {
	fx.mu.Lock()
	fx.evs = append(fx.evs, ev)
	fx.mu.Unlock()
}

// start watches SOURCE with the given descriptor budget (0: plenty).
func (fx *fixture) start(budget int) {
	fx.t.Helper()
	if budget == 0 {
		budget = 1 << 10
	}
	if NewTestSink == nil {
		fx.t.Fatal("kqshim did not set NewTestSink")
	}
	fx.sink = NewTestSink(fx.root, fx.publish, fx.t.Logf)
	fx.k = newBackend(fx.sink, fx.src, time.Hour, budget)
	fx.k.grace = 0 // the tests say when a drain comes; one later drain is the grace
	fx.must(fx.k.start())
	fx.t.Cleanup(func() { fx.k.Close() })
}

func (fx *fixture) p(rel string) string {
	if rel == "" {
		return fx.root
	}
	return filepath.Join(fx.root, rel)
}

func (fx *fixture) write(rel, data string) {
	fx.t.Helper()
	fx.must(os.WriteFile(fx.p(rel), []byte(data), 0o644))
}

// tree makes directories (names ending in /) and files.
func (fx *fixture) tree(rels ...string) {
	fx.t.Helper()
	for _, rel := range rels {
		if d, ok := strings.CutSuffix(rel, "/"); ok {
			fx.must(os.MkdirAll(fx.p(d), 0o755))
			continue
		}
		fx.must(os.MkdirAll(filepath.Dir(fx.p(rel)), 0o755))
		fx.write(rel, rel)
	}
}

// n is a note for the object at rel now (look it up before changing it).
func (fx *fixture) n(rel string, flags Flags) Note {
	fx.t.Helper()
	e, err := fsobj.Stat(fx.p(rel))
	fx.must(err)
	fx.src.mu.Lock()
	defer fx.src.mu.Unlock()
	for h, id := range fx.src.objs {
		if same(id, e) {
			return Note{h: h, flags: flags}
		}
	}
	fx.t.Fatalf("%q is not watched", rel)
	return Note{}
}

// drain hands the translation the notes as successive reads of one look
// at the queue.
func (fx *fixture) drain(reads ...[]Note) {
	fx.t.Helper()
	for _, r := range reads {
		fx.src.push(r)
	}
	drained, err := fx.k.cycle(0)
	fx.must(err)
	if !drained {
		fx.t.Fatal("queue not drained")
	}
	fx.k.retire()
}

// settle lets parked objects' grace run out (one more drain each).
func (fx *fixture) settle() {
	for i := 0; i < 3 && len(fx.k.parked) > 0; i++ {
		fx.drain()
	}
	if len(fx.k.parked) > 0 {
		fx.t.Fatalf("%d objects still parked", len(fx.k.parked))
	}
}

// take returns what was published since the last take, as "type path
// [<- from]".
func (fx *fixture) take() string {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	var out []string
	for _, e := range fx.evs {
		s := e.Type.String() + " " + e.Path
		if e.From != "" {
			s += " <- " + e.From
		}
		if e.Origin != eventbus.OriginBacking {
			s += " (origin " + e.Origin.String() + ")"
		}
		out = append(out, s)
	}
	fx.evs = nil
	return strings.Join(out, "; ")
}

// agrees checks the translation's tree against the disk: the same names
// of the same objects, a descriptor for every directory and regular file
// (one per object), and none left over.
func (fx *fixture) agrees() {
	fx.t.Helper()
	k := fx.k
	want, err := fx.sink.Scan("")
	fx.must(err)
	got := map[string]*node{}
	var walk func(n *node)
	walk = func(n *node) {
		for _, kid := range n.kids {
			got[kid.path()] = kid
			walk(kid)
		}
	}
	walk(k.root)
	for p, e := range want {
		if n := got[p]; n == nil || !same(n.e, e) {
			fx.t.Errorf("tree: %q missing or another object", p)
		} else if watchable(e) && n.w == nil {
			fx.t.Errorf("tree: %q has no descriptor", p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			fx.t.Errorf("tree: %q is not on disk", p)
		}
	}
	objects := map[ident]bool{identOf(k.root.e): true}
	for _, e := range want {
		if watchable(e) {
			objects[identOf(e)] = true
		}
	}
	if n := fx.src.handles(); n != len(objects) || n != len(k.watches) {
		fx.t.Errorf("descriptors: %d open, %d held, %d objects", n, len(k.watches), len(objects))
	}
	if d, f := k.dirs.Load(), k.files.Load(); int(d+f) != len(k.watches) {
		fx.t.Errorf("counted %d+%d descriptors, hold %d", d, f, len(k.watches))
	}
}

// delivery is one way the notes of a change reach the translation:
// drains (looks at the queue until empty), each of one or more reads.
type delivery struct {
	name   string
	drains [][][]int // indices into the notes
}

// deliveries lists the ways n notes can arrive: in every order (a
// sample, beyond 4 notes), all in one read, split between two reads of
// one drain, or split between two drains, at every point.
func deliveries(n int) []delivery {
	var perms [][]int
	var permute func(prefix, rest []int)
	permute = func(prefix, rest []int) {
		if len(rest) == 0 {
			perms = append(perms, append([]int(nil), prefix...))
			return
		}
		for i := range rest {
			next := append(append([]int(nil), rest[:i]...), rest[i+1:]...)
			permute(append(prefix, rest[i]), next)
		}
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	permute(nil, all)
	if len(perms) > 24 {
		r := rand.New(rand.NewPCG(1, uint64(n)))
		r.Shuffle(len(perms), func(i, j int) { perms[i], perms[j] = perms[j], perms[i] })
		perms = perms[:24]
	}
	var ds []delivery
	for _, p := range perms {
		ds = append(ds, delivery{fmt.Sprint(p), [][][]int{{p}}})
		for i := 1; i < len(p); i++ {
			ds = append(ds,
				delivery{fmt.Sprintf("%v,%v", p[:i], p[i:]), [][][]int{{p[:i], p[i:]}}},
				delivery{fmt.Sprintf("%v|%v", p[:i], p[i:]), [][][]int{{p[:i]}, {p[i:]}}})
		}
	}
	return ds
}

// testCase is one change made on disk, the notes the kernel posts for it
// (handles looked up before the change), and what must be published.
type testCase struct {
	name   string
	before []string // the tree when watching starts (see tree)
	change func(fx *fixture) []Note
	want   string
	// or is another history the notes allow: split between drains,
	// changes to one object's data and attributes may be reported in
	// either order.
	or string
}

func noteList(ns ...Note) []Note { return ns }

var cases = []testCase{
	{
		name: "create file",
		change: func(fx *fixture) []Note {
			r := fx.n("", Write)
			fx.write("a", "1")
			return noteList(r)
		},
		want: "create a",
	},
	{
		name: "mkdir with contents",
		change: func(fx *fixture) []Note {
			r := fx.n("", Write|Link)
			fx.tree("d/x", "d/e/y")
			return noteList(r)
		},
		want: "mkdir d; mkdir d/e; create d/x; create d/e/y",
	},
	{
		name:   "symlink",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			r := fx.n("", Write)
			fx.must(os.Symlink("a", fx.p("s")))
			return noteList(r)
		},
		want: "symlink s",
	},
	{
		name: "fifo",
		change: func(fx *fixture) []Note {
			r := fx.n("", Write)
			fx.must(syscall.Mkfifo(fx.p("f"), 0o644))
			return noteList(r)
		},
		want: "mknod f",
	},
	{
		name:   "remove file",
		before: []string{"a", "b"},
		change: func(fx *fixture) []Note {
			r, a := fx.n("", Write), fx.n("a", Delete)
			fx.must(os.Remove(fx.p("a")))
			return noteList(r, a)
		},
		want: "remove a",
	},
	{
		name:   "remove symlink",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			fx.must(os.Symlink("a", fx.p("s")))
			fx.drain(noteList(fx.n("", Write)))
			fx.take()
			r := fx.n("", Write)
			fx.must(os.Remove(fx.p("s")))
			return noteList(r)
		},
		want: "remove s",
	},
	{
		name:   "rmdir with contents",
		before: []string{"d/x", "d/sub/", "k"},
		change: func(fx *fixture) []Note {
			x, sub := fx.n("d/x", Delete), fx.n("d/sub", Delete)
			dw, dd, r := fx.n("d", Write|Link), fx.n("d", Delete), fx.n("", Write|Link)
			fx.must(os.RemoveAll(fx.p("d")))
			return noteList(x, sub, dw, dd, r)
		},
		want: "rmdir d/sub; remove d/x; rmdir d",
	},
	{
		name:   "rename within a directory",
		before: []string{"a", "z"},
		change: func(fx *fixture) []Note {
			r, a := fx.n("", Write), fx.n("a", Rename)
			fx.must(os.Rename(fx.p("a"), fx.p("b")))
			return noteList(r, a)
		},
		want: "rename b <- a",
	},
	{
		name:   "rename across directories",
		before: []string{"d1/a", "d2/"},
		change: func(fx *fixture) []Note {
			d1, d2, a := fx.n("d1", Write|Extend), fx.n("d2", Write|Extend), fx.n("d1/a", Rename)
			fx.must(os.Rename(fx.p("d1/a"), fx.p("d2/b")))
			return noteList(d1, d2, a)
		},
		want: "rename d2/b <- d1/a",
	},
	{
		name:   "rename of a directory",
		before: []string{"d/x", "d/e/y"},
		change: func(fx *fixture) []Note {
			r, d := fx.n("", Write), fx.n("d", Rename)
			fx.must(os.Rename(fx.p("d"), fx.p("f")))
			return noteList(r, d)
		},
		want: "rename f <- d",
	},
	{
		name:   "directory moved across directories",
		before: []string{"p/d/x", "q/"},
		change: func(fx *fixture) []Note {
			p, q, d := fx.n("p", Write|Link|Extend), fx.n("q", Write|Link|Extend), fx.n("p/d", Rename)
			fx.must(os.Rename(fx.p("p/d"), fx.p("q/d")))
			return noteList(p, q, d)
		},
		want: "rename q/d <- p/d",
	},
	{
		name:   "directory moved with a change inside",
		before: []string{"p/sub/x", "q/"},
		change: func(fx *fixture) []Note {
			p, q := fx.n("p", Write|Link), fx.n("q", Write|Link)
			sr, sw := fx.n("p/sub", Rename), fx.n("p/sub", Write)
			fx.must(os.Rename(fx.p("p/sub"), fx.p("q/sub")))
			fx.write("q/sub/new", "n")
			return noteList(p, q, sr, sw)
		},
		want: "rename q/sub <- p/sub; create q/sub/new",
	},
	{
		name:   "move out of SOURCE",
		before: []string{"a", "b"},
		change: func(fx *fixture) []Note {
			r, a := fx.n("", Write), fx.n("a", Rename)
			fx.must(os.Rename(fx.p("a"), filepath.Join(fx.out, "a")))
			return noteList(r, a)
		},
		want: "remove a",
	},
	{
		name:   "directory moved out of SOURCE",
		before: []string{"d/x", "d/e/y"},
		change: func(fx *fixture) []Note {
			r, d := fx.n("", Write|Link), fx.n("d", Rename)
			fx.must(os.Rename(fx.p("d"), filepath.Join(fx.out, "d")))
			return noteList(r, d)
		},
		want: "rmdir d",
	},
	{
		name: "directory moved into SOURCE",
		change: func(fx *fixture) []Note {
			fx.must(os.MkdirAll(filepath.Join(fx.out, "m/e"), 0o755))
			fx.must(os.WriteFile(filepath.Join(fx.out, "m/e/y"), nil, 0o644))
			r := fx.n("", Write|Link)
			fx.must(os.Rename(filepath.Join(fx.out, "m"), fx.p("m")))
			return noteList(r)
		},
		want: "mkdir m; mkdir m/e; create m/e/y",
	},
	{
		name:   "rename replacing a file",
		before: []string{"a", "t"},
		change: func(fx *fixture) []Note {
			r, t, a := fx.n("", Write), fx.n("t", Rename), fx.n("a", Delete)
			fx.must(os.Rename(fx.p("t"), fx.p("a")))
			return noteList(r, t, a)
		},
		want: "rename a <- t",
	},
	{
		name:   "mkdir and move into it",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			r, a := fx.n("", Write|Link), fx.n("a", Rename)
			fx.must(os.Mkdir(fx.p("n"), 0o755))
			fx.must(os.Rename(fx.p("a"), fx.p("n/a")))
			return noteList(r, a)
		},
		want: "mkdir n; rename n/a <- a",
	},
	{
		name:   "move out of a directory, then remove it",
		before: []string{"d/f"},
		change: func(fx *fixture) []Note {
			dw, r, f, dd := fx.n("d", Write), fx.n("", Write|Link), fx.n("d/f", Rename), fx.n("d", Delete)
			fx.must(os.Rename(fx.p("d/f"), fx.p("g")))
			fx.must(os.Remove(fx.p("d")))
			return noteList(dw, r, f, dd)
		},
		want: "rename g <- d/f; rmdir d",
	},
	{
		name:   "move out of a directory, then move it out of SOURCE",
		before: []string{"d/f", "d/k"},
		change: func(fx *fixture) []Note {
			dw, r, f, dr := fx.n("d", Write), fx.n("", Write|Link), fx.n("d/f", Rename), fx.n("d", Rename)
			fx.must(os.Rename(fx.p("d/f"), fx.p("g")))
			fx.must(os.Rename(fx.p("d"), filepath.Join(fx.out, "d")))
			return noteList(dw, r, f, dr)
		},
		want: "rename g <- d/f; rmdir d",
	},
	{
		// A swap through a third name: the listing shows a and b holding
		// each other's objects. Two renames would tell a reader applying
		// them in turn that one object is left; b replaced, then a new
		// object at a, is true.
		name:   "swap",
		before: []string{"a", "b"},
		change: func(fx *fixture) []Note {
			r, a, b := fx.n("", Write), fx.n("a", Rename), fx.n("b", Rename)
			fx.must(os.Rename(fx.p("a"), fx.p("t")))
			fx.must(os.Rename(fx.p("b"), fx.p("a")))
			fx.must(os.Rename(fx.p("t"), fx.p("b")))
			return noteList(r, a, b)
		},
		want: "rename b <- a; create a",
	},
	{
		name:   "remove, then create the same name",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			r, a := fx.n("", Write), fx.n("a", Delete)
			fx.must(os.Remove(fx.p("a")))
			fx.write("a", "new")
			return noteList(r, a)
		},
		want: "remove a; create a",
	},
	{
		name:   "hard link",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			r, a := fx.n("", Write), fx.n("a", Link)
			fx.must(os.Link(fx.p("a"), fx.p("c")))
			return noteList(r, a)
		},
		want: "link c",
	},
	{
		name:   "one of two links removed",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			fx.must(os.Link(fx.p("a"), fx.p("c")))
			fx.drain(noteList(fx.n("", Write)))
			fx.take()
			r, a := fx.n("", Write), fx.n("a", Delete|Link)
			fx.must(os.Remove(fx.p("a")))
			return noteList(r, a)
		},
		want: "remove a",
	},
	{
		name:   "write",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			a := fx.n("a", Write|Extend)
			fx.write("a", "longer than before")
			return noteList(a)
		},
		want: "write a",
	},
	{
		name:   "truncate",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			a := fx.n("a", Attrib)
			fx.must(os.Truncate(fx.p("a"), 0))
			return noteList(a)
		},
		want: "truncate a",
	},
	{
		name:   "chmod",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			a := fx.n("a", Attrib)
			fx.must(os.Chmod(fx.p("a"), 0o600))
			return noteList(a)
		},
		want: "chmod a",
	},
	{
		name:   "chmod of a directory",
		before: []string{"d/"},
		change: func(fx *fixture) []Note {
			d := fx.n("d", Attrib)
			fx.must(os.Chmod(fx.p("d"), 0o700))
			return noteList(d)
		},
		want: "chmod d",
	},
	{
		name:   "utimes",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			a := fx.n("a", Attrib)
			t := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
			fx.must(os.Chtimes(fx.p("a"), t, t))
			return noteList(a)
		},
		want: "utimes a",
	},
	{
		name:   "write and chmod",
		before: []string{"a"},
		change: func(fx *fixture) []Note {
			w, c := fx.n("a", Write|Extend), fx.n("a", Attrib)
			fx.write("a", "longer than before")
			fx.must(os.Chmod(fx.p("a"), 0o600))
			return noteList(w, c)
		},
		want: "chmod a; write a",
		or:   "write a; chmod a",
	},
}

// Every change is published exactly once, as what it was, whichever
// order its notes come in and however they are split; notes delivered
// again afterwards publish nothing; the tree and the descriptors agree
// with the disk.
func TestKqueueNoteOrders(t *testing.T) {
	for _, c := range cases {
		for _, getpath := range []bool{true, false} {
			mode := "getpath"
			if !getpath {
				mode = "nopath"
			}
			t.Run(c.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				probe := runCase(t, c, getpath, nil)
				for _, d := range deliveries(probe) {
					runCase(t, c, getpath, &d)
				}
			})
		}
	}
}

// runCase runs one case with one delivery (nil: all notes in one read)
// and returns how many notes it has.
func runCase(t *testing.T, c testCase, getpath bool, d *delivery) int {
	t.Helper()
	fx := newFixture(t, getpath)
	fx.tree(c.before...)
	fx.start(0)
	if got := fx.take(); got != "" {
		t.Fatalf("at start: %s", got)
	}
	notes := c.change(fx)
	if d == nil {
		d = &delivery{"as posted", [][][]int{{nil}}}
		for i := range notes {
			d.drains[0][0] = append(d.drains[0][0], i)
		}
	}
	for _, drain := range d.drains {
		var reads [][]Note
		for _, read := range drain {
			var r []Note
			for _, i := range read {
				r = append(r, notes[i])
			}
			reads = append(reads, r)
		}
		fx.drain(reads...)
	}
	fx.settle()
	if got := fx.take(); got != c.want && (c.or == "" || got != c.or) {
		t.Errorf("%s:\n got %s\nwant %s", d.name, got, c.want)
	}
	fx.drain(namespaceNotes(fx, notes))
	fx.settle()
	if got := fx.take(); got != "" {
		t.Errorf("%s: the same notes again: %s", d.name, got)
	}
	fx.agrees()
	return len(notes)
}

// namespaceNotes keeps of notes what speaks of names: delivered again,
// they must find nothing left to report. (A data or attribute note always
// means a change: a second one is a second change.)
func namespaceNotes(fx *fixture, notes []Note) []Note {
	var out []Note
	for _, n := range notes {
		w := fx.k.watches[n.h]
		if w == nil || len(w.names) == 0 {
			continue
		}
		if w.names[0].IsDir() {
			n.flags &^= Attrib
		} else {
			n.flags &^= Attrib | Write | Extend
		}
		if n.flags != 0 {
			out = append(out, n)
		}
	}
	return out
}

// The checks above have teeth: a translation that forgets what it
// reported (here: a name dropped from the tree) reports it twice, and
// that is caught.
func TestKqueueChecksCatchDoubles(t *testing.T) {
	fx := newFixture(t, true)
	fx.start(0)
	r := fx.n("", Write)
	fx.write("a", "1")
	fx.drain(noteList(r))
	if got := fx.take(); got != "create a" {
		t.Fatalf("got %q", got)
	}
	a := fx.k.root.kids["a"]
	fx.k.detach(a)
	fx.k.dropTree(a)
	fx.drain(noteList(r))
	if got := fx.take(); got != "create a" {
		t.Fatalf("a forgotten name should be reported again (and so caught); got %q", got)
	}
}

// Where the system tells a moved object's path (F_GETPATH), the move is
// found as soon as either directory's note is read; without it, the
// object waits, out of the tree, for the other directory's note.
func TestKqueueFindsMovesByPath(t *testing.T) {
	for _, getpath := range []bool{true, false} {
		fx := newFixture(t, getpath)
		fx.tree("d1/a", "d2/")
		fx.start(0)
		d1, d2 := fx.n("d1", Write|Extend), fx.n("d2", Write|Extend)
		fx.must(os.Rename(fx.p("d1/a"), fx.p("d2/b")))
		fx.drain(noteList(d1))
		want, parked := "rename d2/b <- d1/a", 0
		if !getpath {
			want, parked = "", 1
		}
		if got := fx.take(); got != want || len(fx.k.parked) != parked {
			t.Errorf("getpath %v: after the source directory's note: %q, %d parked", getpath, got, len(fx.k.parked))
		}
		fx.drain(noteList(d2))
		if got, want := fx.take(), strings.TrimPrefix("rename d2/b <- d1/a", want); got != want || len(fx.k.parked) != 0 {
			t.Errorf("getpath %v: after the other's: %q, %d parked", getpath, got, len(fx.k.parked))
		}
		fx.agrees()
	}
}

// A moved directory keeps its descriptors, and what happens inside it is
// reported under its new path.
func TestKqueueFollowsMovedDirectory(t *testing.T) {
	for _, getpath := range []bool{true, false} {
		fx := newFixture(t, getpath)
		fx.tree("d/e/y")
		fx.start(0)
		open := fx.src.handles()
		r, d := fx.n("", Write), fx.n("d", Rename)
		y, e := fx.n("d/e/y", Write), fx.n("d/e", Write)
		fx.must(os.Rename(fx.p("d"), fx.p("f")))
		fx.drain(noteList(d, r))
		fx.settle()
		fx.write("f/e/y", "longer than before")
		fx.write("f/e/new", "")
		fx.drain(noteList(y, e))
		want := "rename f <- d; create f/e/new; write f/e/y"
		if got := fx.take(); got != want {
			t.Errorf("getpath %v:\n got %s\nwant %s", getpath, got, want)
		}
		if n := fx.src.handles(); n != open+1 {
			t.Errorf("descriptors: %d, want %d", n, open+1)
		}
		fx.agrees()
	}
}

// Hard links share one descriptor; a write through the remaining name
// is reported under it.
func TestKqueueHardLinksShareDescriptor(t *testing.T) {
	fx := newFixture(t, false)
	fx.tree("a")
	fx.must(os.Link(fx.p("a"), fx.p("c")))
	fx.start(0)
	if n := fx.src.handles(); n != 2 {
		t.Fatalf("descriptors: %d, want 2 (SOURCE and the file)", n)
	}
	r, a := fx.n("", Write), fx.n("a", Delete)
	fx.must(os.Remove(fx.p("a")))
	fx.drain(noteList(a, r))
	fx.write("c", "through the other name")
	fx.drain(noteList(fx.n("c", Write|Extend)))
	if got, want := fx.take(), "remove a; write c"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	fx.agrees()
}

// chown needs privileges; a change of group to one the user is in does
// not.
func TestKqueueChown(t *testing.T) {
	fx := newFixture(t, true)
	fx.tree("a")
	fx.start(0)
	uid, gid := os.Getuid(), 4242
	if uid != 0 {
		groups, _ := os.Getgroups()
		gid = -1
		for _, g := range groups {
			if g != os.Getgid() {
				gid = g
			}
		}
		if gid < 0 {
			if os.Getenv("NOTIFYFS_TEST_DISALLOW_SKIP") != "" {
				t.Fatal("no second group to chown to")
			}
			t.Skip("no second group to chown to")
		}
	}
	a := fx.n("a", Attrib)
	fx.must(os.Chown(fx.p("a"), uid, gid))
	fx.drain(noteList(a))
	if got := fx.take(); got != "chown a" {
		t.Errorf("got %q", got)
	}
}

// The kernel's notes of the mount's own changes are not published again.
func TestKqueueEchoesDropped(t *testing.T) {
	fx := newFixture(t, true)
	fx.tree("a")
	fx.start(0)
	s := fx.sink
	r, a := fx.n("", Write), fx.n("a", Write)

	done := s.Expect(eventbus.Create, "m", "", 0, 0)
	fx.write("m", "")
	done()
	done = s.Expect(eventbus.Write, "a", "", 0, 0)
	fx.write("a", "written through the mount")
	done()
	fx.drain(noteList(r, a))
	if got := fx.take(); got != "" {
		t.Errorf("echoes published: %s", got)
	}
	if n := s.Standing(); n != 0 {
		t.Errorf("%d announcements still standing after the queue was drained", n)
	}
	fx.write("o", "")
	fx.drain(noteList(r))
	if got := fx.take(); got != "create o" {
		t.Errorf("a change from underneath after the echoes: %q", got)
	}

	// The mount unlinks one of two names (macOS notes the link count):
	// the name went, it did not move, so it is the echo.
	fx.must(os.Link(fx.p("a"), fx.p("c")))
	fx.drain(noteList(r))
	fx.take()
	done = s.Expect(eventbus.Remove, "a", "", 0, 0)
	fx.must(os.Remove(fx.p("a")))
	done()
	fx.drain(noteList(r, fx.n("c", Link)))
	fx.settle()
	if got := fx.take(); got != "" {
		t.Errorf("echo of unlinking one of two names published: %s", got)
	}
}

// Beyond the descriptor budget, a directory is handed over to polling
// (announced by a rescan), and changes in it are found by its scans.
func TestKqueueBudgetFallsBackToPolling(t *testing.T) {
	fx := newFixture(t, true)
	fx.tree("a", "b", "d/x", "e/z")
	fx.start(4) // SOURCE, a, b, d; e is left over, and d's file
	if got, want := fx.take(), "rescan d; rescan e"; got != want {
		t.Fatalf("at start: got %s, want %s", got, want)
	}
	stats := fx.k.Stats()
	if stats.Watches != 3 || stats.PolledDirs != 2 || stats.WatchedDirs != 1 {
		t.Errorf("stats: %+v", stats)
	}

	fx.write("d/new", "")
	fx.must(os.Rename(fx.p("e/z"), fx.p("e/z2")))
	fx.drain()
	if got := fx.take(); got != "" {
		t.Errorf("before the scan: %s", got)
	}
	fx.k.pollRegions(true)
	if got, want := fx.take(), "create d/new; rename e/z2 <- e/z"; got != want {
		t.Errorf("polled: got %s, want %s", got, want)
	}

	// A file moved into a polled directory leaves the watched part; the
	// scan finds it arrived.
	r, a := fx.n("", Write), fx.n("a", Rename)
	fx.must(os.Rename(fx.p("a"), fx.p("d/a")))
	fx.drain(noteList(r, a))
	fx.k.pollRegions(true)
	if got, want := fx.take(), "remove a; create d/a"; got != want {
		t.Errorf("moved into a polled directory: got %s, want %s", got, want)
	}

	// New files in SOURCE: the first fits, the second does not, and
	// SOURCE itself is polled from then on.
	fx.write("c1", "")
	fx.write("c2", "")
	fx.write("c3", "")
	fx.drain(noteList(r))
	if got, want := fx.take(), "create c1; create c2; create c3; rescan "; got != want {
		t.Errorf("past the budget: got %s, want %s", got, want)
	}
	stats = fx.k.Stats()
	if stats.Watches != 0 || stats.PolledDirs != 1 || fx.src.handles() != 0 {
		t.Errorf("stats: %+v, %d descriptors open", stats, fx.src.handles())
	}
	fx.write("c4", "")
	fx.k.pollRegions(true)
	if got := fx.take(); got != "create c4" {
		t.Errorf("SOURCE polled: %q", got)
	}
}

// The loop: notes are translated as they come, a flush is answered once
// they are, close stops it and releases the queue.
func TestKqueueRunFlushClose(t *testing.T) {
	fx := newFixture(t, false)
	fx.tree("a")
	fx.start(0)
	go fx.k.Run()
	r, a := fx.n("", Write), fx.n("a", Rename)

	fx.must(os.Rename(fx.p("a"), filepath.Join(fx.out, "a")))
	fx.src.push(noteList(r, a))
	flush := func() {
		t.Helper()
		ch := fx.sink.AddFlush()
		fx.k.Poke()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("flush not answered")
		}
	}
	flush()
	if got := fx.take(); got != "remove a" {
		t.Errorf("got %q", got)
	}
	fx.write("b", "")
	fx.src.push(noteList(r))
	flush()
	if got := fx.take(); got != "create b" {
		t.Errorf("got %q", got)
	}
	if err := fx.k.Close(); err != nil {
		t.Fatal(err)
	}
	if !fx.src.closed || fx.src.handles() != 0 {
		t.Errorf("after close: queue closed %v, %d descriptors", fx.src.closed, fx.src.handles())
	}
}

func TestKqueueDeliveriesCoverSplits(t *testing.T) {
	ds := deliveries(3)
	names := map[string]bool{}
	for _, d := range ds {
		names[d.name] = true
	}
	for _, want := range []string{"[0 1 2]", "[2 1 0]", "[1],[0 2]", "[2 0]|[1]"} {
		if !names[want] {
			keys := make([]string, 0, len(names))
			for k := range names {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("no delivery %s among %v", want, keys)
		}
	}
}
