//go:build linux

package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// Real programs on the mount: each test runs a program that people run
// on trees like the ones notifyfs mirrors, checks that it worked (its own
// consistency checks, diff against the original), and that the events
// make sense: the right types at the right paths, nothing outside what
// the program touched, every event through the mount and attributed to
// the program (or a child of it).

// progTimeout bounds every program run.
const progTimeout = 60 * time.Second

// progRun runs name with args in dir and returns its combined output;
// it fails the test if the program fails. env is added to the test's
// environment.
func progRun(t testing.TB, dir string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), progTimeout)
	defer cancel()
	// `env -C dir` changes directory in the program's own process, never
	// in the child between fork and exec: Go starts children with vfork,
	// which holds this thread in a raw system call until the child execs,
	// and a chdir into the mount there waits on the FUSE server of this
	// very process — which a garbage collection waiting to stop the world
	// (this thread included) has stopped: a deadlock.
	cmd := exec.CommandContext(c, "env", append([]string{"-C", dir, name}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), cmd.Process.Pid
}

// progNeed skips when a program is missing, or fails when CI said that
// nothing may be skipped.
func progNeed(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		cannotRun(t, name+" is not installed")
	}
}

// progAncestry says whether pid is this test process or a descendant of
// it; gone is true when pid has exited (and cannot be checked).
func progAncestry(pid int) (mine, gone bool) {
	for i := 0; i < 64 && pid > 1; i++ {
		if pid == me {
			return true, false
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false, true
		}
		// pid (comm) state ppid ...: comm may hold spaces and parens.
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			return false, true
		}
		pid, _ = strconv.Atoi(f[1])
	}
	return pid == me, false
}

// progCheck checks what every event made by a program must be: through
// the mount, by uid 0, at a path under one of prefixes, by a process
// that is not the test itself, still a descendant of it if it is alive,
// with one of the command names comms.
func progCheck(t testing.TB, evs []*eventbus.Event, prefixes []string, comms ...string) {
	t.Helper()
	bad := 0
	for _, e := range evs {
		var why []string
		if e.Origin != eventbus.OriginMount {
			why = append(why, "origin")
		}
		if e.Uid != uint32(os.Geteuid()) {
			why = append(why, "uid")
		}
		under := false
		for _, p := range prefixes {
			if e.Path == p || strings.HasPrefix(e.Path, p+"/") {
				under = true
			}
		}
		if !under {
			why = append(why, "path outside "+strings.Join(prefixes, ","))
		}
		if e.From != "" && !strings.HasPrefix(e.From, prefixes[0]) {
			why = append(why, "from outside")
		}
		if e.Pid == 0 || int(e.Pid) == me {
			why = append(why, "pid")
		} else if mine, gone := progAncestry(int(e.Pid)); !mine && !gone {
			why = append(why, "pid of a process that is not a descendant of the test")
		}
		known := false
		for _, c := range comms {
			known = known || e.Comm == c
		}
		if !known {
			why = append(why, "comm not one of "+strings.Join(comms, ","))
		}
		if len(why) > 0 {
			if bad++; bad <= 20 {
				t.Errorf("%s:%s", strings.Join(why, "; "), describe([]*eventbus.Event{e}))
			}
		}
	}
}

// progByType indexes events by type and path.
func progByType(evs []*eventbus.Event) map[eventbus.Type]map[string][]*eventbus.Event {
	out := make(map[eventbus.Type]map[string][]*eventbus.Event)
	for _, e := range evs {
		if out[e.Type] == nil {
			out[e.Type] = make(map[string][]*eventbus.Event)
		}
		out[e.Type][e.Path] = append(out[e.Type][e.Path], e)
	}
	return out
}

// progAwait returns the events so far plus those that are still to come
// until n close_writes have been seen in total (close_write follows the
// last close(2) asynchronously).
func progAwait(r *recorder, evs []*eventbus.Event, n int) []*eventbus.Event {
	seen := 0
	for _, e := range evs {
		if e.Type == eventbus.CloseWrite {
			seen++
		}
	}
	if seen < n {
		evs = append(evs, r.until(func(e *eventbus.Event) bool {
			if e.Type == eventbus.CloseWrite {
				seen++
			}
			return seen >= n
		})...)
	}
	return append(evs, r.synced()...)
}

// progCount counts the events of type typ.
func progCount(evs []*eventbus.Event, typ eventbus.Type) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// progGitEnv isolates git from the machine's and the user's config.
func progGitEnv(t testing.TB) []string {
	return []string{
		"HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_DATE=2005-04-07T22:13:13Z", "GIT_COMMITTER_DATE=2005-04-07T22:13:13Z",
		"LC_ALL=C",
	}
}

func TestProgramGit(t *testing.T) {
	progNeed(t, "git")
	m := newMount(t)
	env := progGitEnv(t)
	r := m.record(t)
	progRun(t, m.mnt, env, "git", "-c", "init.defaultBranch=main", "init", "-q", "repo")
	repo := m.path("repo")
	progRun(t, repo, env, "git", "config", "user.name", "Notify Test")
	progRun(t, repo, env, "git", "config", "user.email", "test@notifyfs.invalid")
	initEvs := progAwait(r, nil, 0)

	// A few files, written by the test itself.
	files := map[string][]byte{
		"README":         []byte("hello\n"),
		"dir/a.txt":      []byte("a\nb\nc\n"),
		"dir/sub/b.bin":  dataRandom(21, 100_000),
		"dir/sub/empty":  nil,
		"with space.txt": []byte("spaced out\n"),
	}
	for rel, data := range files {
		os.MkdirAll(filepath.Dir(filepath.Join(repo, rel)), 0o755)
		if err := os.WriteFile(filepath.Join(repo, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	progAwait(r, nil, len(files))

	progRun(t, repo, env, "git", "add", ".")
	progRun(t, repo, env, "git", "commit", "-q", "-m", "first commit")
	commitEvs := progAwait(r, nil, 0)

	if out, _ := progRun(t, repo, env, "git", "status", "--porcelain"); out != "" {
		t.Errorf("git status --porcelain after commit:\n%s", out)
	}
	progRun(t, repo, env, "git", "fsck", "--strict", "--no-dangling")
	if out, _ := progRun(t, repo, env, "git", "ls-tree", "-r", "--name-only", "HEAD"); strings.Count(out, "\n") != len(files) {
		t.Errorf("HEAD holds:\n%s", out)
	}
	// The same repository read from SOURCE directly.
	if out, _ := progRun(t, m.srcPath("repo"), env, "git", "show", "HEAD:dir/a.txt"); out != "a\nb\nc\n" {
		t.Errorf("SOURCE repository: HEAD:dir/a.txt = %q", out)
	}
	checkEvs := progAwait(r, nil, 0)

	all := append(append([]*eventbus.Event(nil), initEvs...), commitEvs...)
	all = append(all, checkEvs...)
	t.Logf("init: %d events, add+commit: %d, status+fsck: %d", len(initEvs), len(commitEvs), len(checkEvs))
	progCheck(t, all, []string{"repo"}, "git")
	by := progByType(all)
	if len(by[eventbus.Mkdir]["repo"]) != 1 || len(by[eventbus.Mkdir]["repo/.git"]) != 1 {
		t.Errorf("git init: no mkdir of repo and repo/.git:%s", describe(initEvs))
	}
	// HEAD is made directly or (git >= 2.x) as HEAD.lock renamed into
	// place.
	if len(by[eventbus.Create]["repo/.git/HEAD"])+len(by[eventbus.Rename]["repo/.git/HEAD"]) == 0 {
		t.Errorf("git init: no create (nor rename into place) of repo/.git/HEAD:%s", describe(initEvs))
	}
	if len(by[eventbus.Rename]["repo/.git/index"]) == 0 {
		t.Errorf("no rename of .git/index.lock to .git/index:%s", describe(commitEvs))
	}
	// Every lock file git made went away: renamed onto the name it
	// locked (commit) or removed (rollback), after it was written.
	locks := 0
	for i, e := range all {
		if e.Type != eventbus.Create || !strings.HasSuffix(e.Path, ".lock") {
			continue
		}
		locks++
		done := false
		for _, f := range all[i+1:] {
			if f.Type == eventbus.Rename && f.From == e.Path {
				if f.Path != strings.TrimSuffix(e.Path, ".lock") {
					t.Errorf("lock %s renamed to %s", e.Path, f.Path)
				}
				done = true
				break
			}
			if f.Type == eventbus.Remove && f.Path == e.Path {
				done = true
				break
			}
		}
		if !done {
			t.Errorf("lock file %s created, never renamed nor removed", e.Path)
		}
	}
	// And in order: written and closed (git closes a lock before it
	// commits or rolls it back), then renamed or removed.
	for _, story := range progStories(all) {
		if !strings.HasSuffix(story[0].Path, ".lock") {
			continue
		}
		switch shape := progShape(story, eventbus.Chmod); shape {
		case "create write close_write rename", "create close_write rename",
			"create write close_write remove", "create close_write remove":
		default:
			t.Errorf("lock file %s: want create, write(s), close_write, then rename or remove; got %s:%s", story[0].Path, shape, describe(story))
		}
	}
	renames := 0
	for _, e := range all {
		if e.Type == eventbus.Rename && strings.HasSuffix(e.From, ".lock") {
			renames++
			if e.Path != strings.TrimSuffix(e.From, ".lock") {
				t.Errorf("rename from a lock onto another name:%s", describe([]*eventbus.Event{e}))
			}
			if _, err := os.Lstat(m.srcPath(e.Path)); err != nil {
				t.Errorf("renamed into place, but not in SOURCE: %v", err)
			}
		}
	}
	if locks == 0 || renames == 0 {
		t.Errorf("%d lock files created, %d renamed into place; want some of each", locks, renames)
	}
	// The objects of the commit (3 trees, 5 blobs with one empty one,
	// the commit) were each given their final name: by link (git's
	// default) or rename.
	objects := 0
	for _, e := range all {
		if (e.Type == eventbus.Link || e.Type == eventbus.Rename) && strings.HasPrefix(e.Path, "repo/.git/objects/") && !strings.HasSuffix(e.Path, ".lock") {
			objects++
		}
	}
	if objects < 8 {
		t.Errorf("%d objects linked or renamed into .git/objects, want at least 8", objects)
	}
	if len(by[eventbus.Rmdir]) != 0 {
		t.Errorf("rmdir events:%v", by[eventbus.Rmdir])
	}
	if testing.Verbose() && t.Failed() {
		t.Logf("all events:%s", describe(all))
	}
}

// progTree makes a small tree outside the mount with what archivers and
// copiers must carry over: nested directories, modes, old mtimes, an
// empty file, a large file, a symlink, an xattr.
func progTree(t testing.TB, dir string) {
	t.Helper()
	files := []struct {
		rel  string
		data []byte
		mode os.FileMode
	}{
		{"top.txt", []byte("top\n"), 0o644},
		{"exec.sh", []byte("#!/bin/sh\necho hi\n"), 0o755},
		{"private", []byte("secret\n"), 0o600},
		{"empty", nil, 0o640},
		{"d1/big.bin", dataRandom(31, 3<<20+17), 0o644},
		{"d1/d2/deep.txt", []byte("deep\n"), 0o444},
		{"d1/d2/d3/deeper", dataRandom(32, 5000), 0o664},
	}
	for i, f := range files {
		p := filepath.Join(dir, f.rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, f.mode)
		ts := time.Unix(1_000_000_000+int64(i)*3600, int64(i)*1000)
		os.Chtimes(p, ts, ts)
	}
	if err := os.Symlink("top.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("d3/deeper", filepath.Join(dir, "d1/d2/rel-link")); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "emptydir"), 0o700)
	for i, d := range []string{"d1/d2/d3", "d1/d2", "d1", "emptydir"} {
		ts := time.Unix(900_000_000+int64(i)*86400, 0)
		os.Chtimes(filepath.Join(dir, d), ts, ts)
	}
}

// progEntry is what stat says about one name in a tree.
type progEntry struct {
	mode   os.FileMode
	size   int64
	mtime  time.Time
	target string
}

// progWalk lists a tree: relative name → entry (the root itself is "").
func progWalk(t testing.TB, root string) map[string]progEntry {
	t.Helper()
	out := make(map[string]progEntry)
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			rel = ""
		}
		e := progEntry{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime()}
		if fi.Mode()&os.ModeSymlink != 0 {
			e.target, _ = os.Readlink(p)
		}
		if fi.IsDir() {
			e.size = 0
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// progSameStat compares two listings: names, modes, sizes, symlink
// targets and (for files and, if dirs, directories) mtimes to the ns.
func progSameStat(t testing.TB, what string, got, want map[string]progEntry, dirs bool) {
	t.Helper()
	var names []string
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, g := want[n], got[n]
		if _, ok := got[n]; !ok {
			t.Errorf("%s: %q missing", what, n)
			continue
		}
		if g.mode != w.mode || g.size != w.size || g.target != w.target {
			t.Errorf("%s: %q is %v size %d -> %q, want %v size %d -> %q", what, n, g.mode, g.size, g.target, w.mode, w.size, w.target)
		}
		if n != "" && (dirs || !w.mode.IsDir()) && w.mode&os.ModeSymlink == 0 && !g.mtime.Equal(w.mtime) {
			t.Errorf("%s: %q mtime %v, want %v", what, n, g.mtime, w.mtime)
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("%s: %q should not be there", what, n)
		}
	}
}

// progDiff runs diff -r (no output = same trees).
func progDiff(t testing.TB, a, b string) {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), progTimeout)
	defer cancel()
	out, err := exec.CommandContext(c, "diff", "-r", "--no-dereference", a, b).CombinedOutput()
	if err != nil {
		t.Errorf("diff -r %s %s: %v\n%s", a, b, err, out)
	}
}

// progCounts counts the regular files, directories and symlinks of a
// listing, below its root.
func progCounts(l map[string]progEntry) (files, dirs, links int) {
	for n, e := range l {
		switch {
		case n == "":
		case e.mode.IsRegular():
			files++
		case e.mode.IsDir():
			dirs++
		case e.mode&os.ModeSymlink != 0:
			links++
		}
	}
	return
}

// progGoFuseDir is a real source tree that does not change while the
// tests run: go-fuse's fuse/ package from the module cache, or failing
// that a package of the Go distribution.
func progGoFuseDir(t testing.TB) string {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), progTimeout)
	defer cancel()
	if out, err := exec.CommandContext(c, "go", "list", "-m", "-f", "{{.Dir}}", "github.com/hanwen/go-fuse/v2").Output(); err == nil {
		if d := filepath.Join(strings.TrimSpace(string(out)), "fuse"); d != "fuse" {
			if _, err := os.Stat(d); err == nil {
				return d
			}
		}
	}
	out, err := exec.CommandContext(c, "go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "src", "archive")
}

func TestProgramTarExtract(t *testing.T) {
	progNeed(t, "tar")
	m := newMount(t)
	// The archive: a real source tree plus the small tree with symlinks
	// and modes, made with tar outside the mount.
	stage := t.TempDir()
	real := progGoFuseDir(t)
	progTree(t, filepath.Join(stage, "extra"))
	archive := filepath.Join(stage, "tree.tar")
	progRun(t, stage, nil, "tar", "--format=pax", "-cf", archive, "-C", filepath.Dir(real), filepath.Base(real), "-C", stage, "extra")
	listing, _ := progRun(t, stage, nil, "tar", "tf", archive)

	os.Mkdir(m.path("x"), 0o755)
	r := m.record(t)
	_, pid := progRun(t, m.path("x"), nil, "tar", "xf", archive)
	// tar x of a fresh tree: one create per file, mkdir per directory,
	// symlink per symlink.
	orig := progWalk(t, real)
	extra := progWalk(t, filepath.Join(stage, "extra"))
	nf, nd, nl := progCounts(orig)
	ef, ed, el := progCounts(extra)
	files, dirs, links := nf+ef, nd+ed+2, nl+el // +2: the roots
	if n := strings.Count(listing, "\n"); n != files+dirs+links {
		t.Fatalf("archive lists %d names, the trees hold %d", n, files+dirs+links)
	}
	evs := progAwait(r, nil, files)
	progCheck(t, evs, []string{"x"}, "tar")
	for _, e := range evs {
		if int(e.Pid) != pid {
			t.Errorf("event by pid %d, tar was %d:%s", e.Pid, pid, describe([]*eventbus.Event{e}))
			break
		}
	}
	by := progByType(evs)
	check := func(typ eventbus.Type, n int) {
		t.Helper()
		total := 0
		for p, l := range by[typ] {
			total += len(l)
			if len(l) != 1 {
				t.Errorf("%d %s events for %s", len(l), typ, p)
			}
		}
		if total != n {
			t.Errorf("%d %s events, want %d", total, typ, n)
		}
	}
	check(eventbus.Create, files)
	check(eventbus.Mkdir, dirs)
	check(eventbus.Symlink, links)
	check(eventbus.CloseWrite, files)
	for p := range by[eventbus.Create] {
		if len(by[eventbus.CloseWrite][p]) != 1 {
			t.Errorf("no close_write for %s", p)
		}
	}
	progWrites(t, evs, m.src, "x")
	for p, l := range by[eventbus.Symlink] {
		want := orig[strings.TrimPrefix(p, "x/fuse/")].target
		if strings.HasPrefix(p, "x/extra/") {
			want = extra[strings.TrimPrefix(p, "x/extra/")].target
		}
		if l[0].Target != want {
			t.Errorf("symlink %s -> %q, want %q", p, l[0].Target, want)
		}
	}
	for typ := range by {
		switch typ {
		case eventbus.Create, eventbus.Mkdir, eventbus.Symlink, eventbus.Write, eventbus.CloseWrite,
			eventbus.Utimes, eventbus.Chmod, eventbus.Chown:
		default:
			t.Errorf("tar x made %s events:%v", typ, by[typ])
		}
	}
	progDiff(t, real, m.path("x/fuse"))
	progDiff(t, filepath.Join(stage, "extra"), m.path("x/extra"))
	progDiff(t, filepath.Join(stage, "extra"), m.srcPath("x/extra"))
	progSameStat(t, "extracted", progWalk(t, m.path("x/extra")), extra, true)
	t.Logf("%d files, %d directories, %d symlinks: %d events", files, dirs, links, len(evs))
}

func TestProgramCopyArchive(t *testing.T) {
	progNeed(t, "cp")
	m := newMount(t)
	tree := filepath.Join(t.TempDir(), "tree")
	progTree(t, tree)
	want := progWalk(t, tree)
	r := m.record(t)
	_, pid := progRun(t, m.mnt, nil, "cp", "-a", tree, m.path("copy"))
	files, dirs, links := progCounts(want)
	evs := progAwait(r, nil, files)
	progCheck(t, evs, []string{"copy"}, "cp")
	for _, e := range evs {
		if int(e.Pid) != pid {
			t.Errorf("event by pid %d, cp was %d:%s", e.Pid, pid, describe([]*eventbus.Event{e}))
			break
		}
	}
	progDiff(t, tree, m.path("copy"))
	progSameStat(t, "copy through the mount", progWalk(t, m.path("copy")), want, true)
	progSameStat(t, "copy in SOURCE", progWalk(t, m.srcPath("copy")), want, true)

	by := progByType(evs)
	if n := len(by[eventbus.Create]); n != files {
		t.Errorf("%d files created, want %d", n, files)
	}
	if n := len(by[eventbus.Mkdir]); n != dirs+1 {
		t.Errorf("%d directories made, want %d", n, dirs+1)
	}
	if n := len(by[eventbus.Symlink]); n != links {
		t.Errorf("%d symlinks made, want %d", n, links)
	}
	progWrites(t, evs, m.src, "copy")
	// cp -a sets each file's and directory's times (utimes) and its mode
	// (chmod, or the access ACL that stands for it), after creating it.
	for rel, e := range want {
		p := filepath.Join("copy", rel)
		if rel == "" {
			p = "copy"
		}
		if e.mode&os.ModeSymlink != 0 {
			continue
		}
		if len(by[eventbus.Utimes][p]) == 0 {
			t.Errorf("no utimes for %s", p)
		}
		acl := false
		for _, x := range by[eventbus.Setxattr][p] {
			acl = acl || x.Xattr == "system.posix_acl_access"
		}
		if len(by[eventbus.Chmod][p]) == 0 && !acl {
			t.Errorf("no chmod (nor access ACL) for %s", p)
		}
	}
	for typ := range by {
		switch typ {
		case eventbus.Create, eventbus.Mkdir, eventbus.Symlink, eventbus.Write, eventbus.CloseWrite,
			eventbus.Utimes, eventbus.Chmod, eventbus.Chown, eventbus.Setxattr, eventbus.Removexattr, eventbus.Truncate:
		default:
			t.Errorf("cp -a made %s events:%v", typ, by[typ])
		}
	}
	if testing.Verbose() {
		t.Logf("%d events; by type:%s", len(evs), progSummary(by))
	}
}

// progWrites checks that every non-empty regular file under dir in
// SOURCE got at least one write event, none after its close_write, and
// the file's final size in the last one. Events about a name that was
// later renamed onto the file (a temporary file) count as the file's.
func progWrites(t testing.TB, evs []*eventbus.Event, src, dir string) {
	t.Helper()
	renamedTo := make(map[string]string)
	for _, e := range evs {
		if e.Type == eventbus.Rename {
			renamedTo[e.From] = e.Path
		}
	}
	missing := 0
	filepath.Walk(filepath.Join(src, dir), func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		var last *eventbus.Event
		closed := false
		for _, e := range evs {
			name := e.Path
			if to, ok := renamedTo[name]; ok && e.Type != eventbus.Rename {
				name = to
			}
			if name != rel {
				continue
			}
			switch e.Type {
			case eventbus.Write:
				last = e
				if closed {
					t.Errorf("write after close_write:%s", describe([]*eventbus.Event{e}))
				}
			case eventbus.CloseWrite:
				closed = true
			}
		}
		switch {
		case last == nil:
			if missing++; missing <= 10 {
				t.Errorf("%s (%d bytes) written, but no write event", rel, fi.Size())
			}
		case last.Size != fi.Size():
			t.Errorf("%s: last write event has size %d, file has %d", rel, last.Size, fi.Size())
		}
		return nil
	})
	if missing > 10 {
		t.Errorf("... %d files in all without a write event", missing)
	}
}

// progStories splits events into the story of each file a program
// made: a create starts a story for its inode, and every later event
// about that inode (whatever its name by then) belongs to it, until the
// inode number is reused.
func progStories(evs []*eventbus.Event) [][]*eventbus.Event {
	var out [][]*eventbus.Event
	current := make(map[uint64]int)
	for _, e := range evs {
		if !e.HasAttr {
			continue
		}
		switch e.Type {
		case eventbus.Create:
			current[e.Ino] = len(out)
			out = append(out, nil)
		case eventbus.Mkdir, eventbus.Symlink, eventbus.Mknod:
			delete(current, e.Ino) // the inode number was reused
		}
		if i, ok := current[e.Ino]; ok {
			out[i] = append(out[i], e)
		}
	}
	return out
}

// progShape is the sequence of types of a story, runs of one type
// folded and the types in skip left out: "create write close_write
// rename".
func progShape(story []*eventbus.Event, skip ...eventbus.Type) string {
	var parts []string
next:
	for _, e := range story {
		for _, s := range skip {
			if e.Type == s {
				continue next
			}
		}
		if n := len(parts); n == 0 || parts[n-1] != e.Type.String() {
			parts = append(parts, e.Type.String())
		}
	}
	return strings.Join(parts, " ")
}

// progSummary is one line per type: how many events, at how many paths.
func progSummary(by map[eventbus.Type]map[string][]*eventbus.Event) string {
	var b strings.Builder
	for typ := eventbus.Create; typ <= eventbus.Close; typ++ {
		if l := by[typ]; len(l) > 0 {
			n := 0
			for _, x := range l {
				n += len(x)
			}
			fmt.Fprintf(&b, "\n\t%s: %d at %d paths", typ, n, len(l))
		}
	}
	return b.String()
}

// progReplay replays the namespace events (create, mkdir, symlink,
// mknod, link, remove, rmdir, rename) and checks that every name they
// leave existing exists in SOURCE and every name they leave gone does
// not: the events tell the story of what is on disk. Directory renames
// are not followed into their children (no program here makes one).
func progReplay(t testing.TB, evs []*eventbus.Event, src string) {
	t.Helper()
	exists := make(map[string]bool)
	for _, e := range evs {
		switch e.Type {
		case eventbus.Create, eventbus.Mkdir, eventbus.Symlink, eventbus.Mknod, eventbus.Link:
			exists[e.Path] = true
		case eventbus.Remove, eventbus.Rmdir:
			exists[e.Path] = false
		case eventbus.Rename:
			if !e.Exchange {
				exists[e.From] = false
			}
			exists[e.Path] = true
		}
	}
	bad := 0
	for p, want := range exists {
		_, err := os.Lstat(filepath.Join(src, p))
		if got := err == nil; got != want {
			if bad++; bad <= 10 {
				t.Errorf("events leave %q existing=%v, SOURCE says %v", p, want, got)
			}
		}
	}
}

// An editor's atomic save, made by the test itself: write a temporary
// file, fsync, close, rename it over the file. For the temporary name
// the events are, in order: create, write(s), close_write, rename onto
// the file (replaced) — close(2) returned before rename(2) began, so
// close_write must not come after the rename. Several rounds, with the
// two naming styles, because the order is decided by the daemon.
func TestProgramAtomicSave(t *testing.T) {
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			r := m.record(t)
			writeFile(t, m.path("f"), "original\n", os.O_CREATE|os.O_EXCL|os.O_WRONLY)
			closeWrite(r, "f")
			const rounds = 20
			var content []byte
			for i := 0; i < rounds; i++ {
				tmp := ".f.swp"
				if i%2 == 1 {
					tmp = "f.tmp"
				}
				content = dataRandom(uint64(100+i), 1000+i*997)
				f, err := os.OpenFile(m.path(tmp), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(content[:500]); err != nil {
					t.Fatal(err)
				}
				if _, err := f.Write(content[500:]); err != nil {
					t.Fatal(err)
				}
				if err := f.Sync(); err != nil {
					t.Fatal(err)
				}
				if err := f.Close(); err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(m.path(tmp), m.path("f")); err != nil {
					t.Fatal(err)
				}
			}
			evs := progAwait(r, nil, rounds)
			dataCheck(t, m, "f", content)

			for _, e := range evs {
				if int(e.Pid) != me || e.Origin != eventbus.OriginMount {
					t.Errorf("not by this process through the mount:%s", describe([]*eventbus.Event{e}))
				}
			}
			// The story of each temporary file, whatever its name.
			stories := progStories(evs)
			if len(stories) != rounds {
				t.Fatalf("%d files created, want %d:%s", len(stories), rounds, describe(evs))
			}
			for i, story := range stories {
				tmp := ".f.swp"
				if i%2 == 1 {
					tmp = "f.tmp"
				}
				size := int64(1000 + i*997)
				shape := progShape(story)
				var cw, rn *eventbus.Event
				for _, e := range story {
					switch e.Type {
					case eventbus.CloseWrite:
						cw = e
					case eventbus.Rename:
						rn = e
					}
				}
				if shape != "create write close_write rename" || story[0].Path != tmp ||
					cw.Path != tmp || cw.Size != size || rn.From != tmp || rn.Path != "f" || !rn.Replaced {
					t.Errorf("round %d: want create %s, write(s), close_write %s (size %d), rename %s -> f (replaced); got %s:%s",
						i, tmp, tmp, size, tmp, shape, describe(story))
				}
			}
			progReplay(t, evs, m.src)
		})
	}
}

// sed -i is an atomic save made by a real program: a temporary file in
// the same directory, written, closed and renamed over the file.
func TestProgramSedInPlace(t *testing.T) {
	progNeed(t, "sed")
	m := newMount(t)
	os.Mkdir(m.srcPath("etc"), 0o755)
	if err := os.WriteFile(m.srcPath("etc/conf"), []byte("colour=red\nsize=1\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	r := m.record(t)
	const rounds = 5
	var pids []int
	for i := 0; i < rounds; i++ {
		_, pid := progRun(t, m.path("etc"), nil, "sed", "-i", fmt.Sprintf("s/^size=.*/size=%d/", i+2), "conf")
		pids = append(pids, pid)
	}
	evs := progAwait(r, nil, rounds)
	if b, err := os.ReadFile(m.srcPath("etc/conf")); err != nil || string(b) != fmt.Sprintf("colour=red\nsize=%d\n", rounds+1) {
		t.Errorf("SOURCE etc/conf = %q, %v", b, err)
	}
	progCheck(t, evs, []string{"etc"}, "sed")
	progReplay(t, evs, m.src)
	// Per round, the story of its temporary file: create, then
	// chown/chmod/ACL (sed copies the owner and mode), write(s),
	// close_write, and the rename onto conf — in that order, all by that
	// round's sed. close(2) returned before rename(2) began, so a
	// close_write after the rename (at the new name) is out of order.
	stories := progStories(evs)
	if len(stories) != rounds {
		t.Fatalf("%d files created, want %d:%s", len(stories), rounds, describe(evs))
	}
	for i, story := range stories {
		tmp := story[0].Path
		shape := progShape(story, eventbus.Chown, eventbus.Chmod, eventbus.Setxattr)
		last := story[len(story)-1]
		if !strings.HasPrefix(tmp, "etc/sed") || shape != "create write close_write rename" ||
			last.From != tmp || last.Path != "etc/conf" || !last.Replaced {
			t.Errorf("round %d: want create, write(s), close_write of etc/sed*, then rename onto etc/conf (replaced); got %s:%s", i, shape, describe(story))
		}
		for _, e := range story {
			if e.Type == eventbus.Write || e.Type == eventbus.CloseWrite {
				if e.Size != int64(len("colour=red\nsize=2\n")) {
					t.Errorf("round %d: size %d:%s", i, e.Size, describe([]*eventbus.Event{e}))
				}
			}
			if int(e.Pid) != pids[i] {
				t.Errorf("round %d: pid %d, sed was %d", i, e.Pid, pids[i])
			}
		}
	}
	if n := progCount(evs, eventbus.Rename); n != rounds {
		t.Errorf("%d renames, want %d", n, rounds)
	}
}

// sqlite3 in WAL mode: one process creates and fills a database; then a
// second one writes while a first holds a read transaction (its snapshot
// must not move), and the database checks out. The WAL is written
// through the mount and the events say so.
func TestProgramSqliteWAL(t *testing.T) {
	progNeed(t, "sqlite3")
	m := newMount(t)
	os.Mkdir(m.path("db"), 0o755)
	r := m.record(t)
	dir := m.path("db")
	out, _ := progRun(t, dir, nil, "sqlite3", "test.db",
		"PRAGMA journal_mode=WAL;",
		"CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT NOT NULL);",
		"BEGIN;",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<1000) INSERT INTO t(v) SELECT hex(randomblob(40)) FROM c;",
		"COMMIT;",
		"SELECT 'rows:' || count(*) FROM t;")
	if out != "wal\nrows:1000\n" {
		t.Fatalf("sqlite3 setup said %q", out)
	}
	// The first process reads, then runs a second sqlite3 (.system)
	// that inserts 500 rows and counts while the first still holds its
	// read transaction, then reads again in the same transaction and
	// after it. Outputs are labelled: the two processes' stdout buffers
	// are flushed in no particular order.
	out, _ = progRun(t, dir, nil, "sqlite3", "test.db",
		"BEGIN;",
		"SELECT 'snapshot:' || count(*) FROM t;",
		`.system sqlite3 test.db "INSERT INTO t(v) SELECT v || 'x' FROM t LIMIT 500;" "SELECT 'writer:' || count(*) FROM t;" "PRAGMA wal_checkpoint(PASSIVE);"`,
		"SELECT 'still:' || count(*) FROM t;",
		"COMMIT;",
		"SELECT 'after:' || count(*) FROM t;",
		"PRAGMA integrity_check;")
	for _, want := range []string{"snapshot:1000", "writer:1500", "still:1000", "after:1500", "ok"} {
		if !strings.Contains("\n"+out, "\n"+want+"\n") {
			t.Errorf("sqlite3 output lacks %q:\n%s", want, out)
		}
	}
	out, _ = progRun(t, dir, nil, "sqlite3", "test.db", "PRAGMA integrity_check;", "PRAGMA journal_mode;", "SELECT count(DISTINCT v) FROM t;")
	if out != "ok\nwal\n1500\n" {
		t.Errorf("sqlite3 check said %q", out)
	}
	evs := progAwait(r, nil, 0)
	progCheck(t, evs, []string{"db"}, "sqlite3", "sh")
	progReplay(t, evs, m.src)
	by := progByType(evs)
	if len(by[eventbus.Create]["db/test.db"]) != 1 {
		t.Errorf("no create of db/test.db")
	}
	if len(by[eventbus.Write]["db/test.db-wal"]) == 0 {
		t.Errorf("no write event for db/test.db-wal:%s", progSummary(by))
	}
	if len(by[eventbus.Write]["db/test.db"]) == 0 {
		t.Errorf("no write event for db/test.db (checkpoints):%s", progSummary(by))
	}
	for typ, paths := range by {
		for p := range paths {
			switch p {
			case "db/test.db", "db/test.db-wal", "db/test.db-shm", "db/test.db-journal":
			default:
				t.Errorf("%s event at %s", typ, p)
			}
		}
	}
	if testing.Verbose() {
		t.Logf("%d events; by type:%s", len(evs), progSummary(by))
	}
}

// rsync -a into the mount: rsync writes each file under a temporary name
// (.name.XXXXXX) and renames it into place. A second run after one file
// changed transfers that file only, and the events are about it only.
func TestProgramRsync(t *testing.T) {
	progNeed(t, "rsync")
	m := newMount(t)
	tree := filepath.Join(t.TempDir(), "tree")
	progTree(t, tree)
	want := progWalk(t, tree)
	r := m.record(t)
	progRun(t, m.mnt, nil, "rsync", "-a", tree+"/", m.path("dst"))
	files, _, links := progCounts(want)
	evs := progAwait(r, nil, files)
	progCheck(t, evs, []string{"dst"}, "rsync")
	progReplay(t, evs, m.src)
	progDiff(t, tree, m.path("dst"))
	progSameStat(t, "rsync copy through the mount", progWalk(t, m.path("dst")), want, true)
	progSameStat(t, "rsync copy in SOURCE", progWalk(t, m.srcPath("dst")), want, true)
	progWrites(t, evs, m.src, "dst")
	by := progByType(evs)
	for rel, e := range want {
		p := filepath.Join("dst", rel)
		switch {
		case e.mode.IsRegular():
			ok := false
			for _, x := range by[eventbus.Rename][p] {
				base := filepath.Base(p)
				ok = ok || filepath.Dir(x.From) == filepath.Dir(p) && strings.HasPrefix(filepath.Base(x.From), "."+base+".")
			}
			if !ok {
				t.Errorf("%s: no rename into place from .%s.XXXXXX:%s", p, filepath.Base(p), describe(by[eventbus.Rename][p]))
			}
		case e.mode&os.ModeSymlink != 0:
			if len(by[eventbus.Symlink][p])+len(by[eventbus.Rename][p]) == 0 {
				t.Errorf("%s: symlink not made", p)
			}
		}
	}
	if n := progCount(evs, eventbus.Symlink); n != links {
		t.Errorf("%d symlink events, want %d", n, links)
	}

	// One file changes; rsync transfers it alone.
	changed := "d1/d2/deep.txt"
	if err := os.WriteFile(filepath.Join(tree, changed), []byte("deep, and changed\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1_500_000_000, 12345)
	os.Chtimes(filepath.Join(tree, changed), ts, ts)
	out, _ := progRun(t, m.mnt, nil, "rsync", "-a", "-i", tree+"/", m.path("dst"))
	var sent []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, ">f") {
			sent = append(sent, l)
		}
	}
	if len(sent) != 1 || !strings.HasSuffix(sent[0], " "+changed) {
		t.Errorf("second rsync transferred %q, want only %s:\n%s", sent, changed, out)
	}
	evs = progAwait(r, nil, 1)
	progCheck(t, evs, []string{"dst"}, "rsync")
	progReplay(t, evs, m.src)
	progDiff(t, tree, m.path("dst"))
	final := filepath.Join("dst", changed)
	renamed := false
	for _, e := range evs {
		tmp := filepath.Dir(e.Path) == filepath.Dir(final) && strings.HasPrefix(filepath.Base(e.Path), "."+filepath.Base(final)+".")
		// rsync puts back the times of the directories it changed.
		ancestor := e.Type == eventbus.Utimes && e.IsDir && strings.HasPrefix(final, e.Path+"/")
		switch {
		case e.Path == final && e.Type == eventbus.Rename:
			renamed = true
		case e.Path == final || tmp || ancestor:
		default:
			t.Errorf("second rsync: event about something else than %s:%s", final, describe([]*eventbus.Event{e}))
		}
	}
	if !renamed {
		t.Errorf("second rsync: no rename into %s:%s", final, describe(evs))
	}
}
