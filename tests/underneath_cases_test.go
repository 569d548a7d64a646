//go:build linux

package tests

// Cases found by a review of the bridge of changes made underneath the
// mount, each a way it once lost, doubled, misnamed or misplaced a
// change, or left the mount's view wrong; kept as regression tests.

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
)

// allEvents renders every event, close_write included, with origin.
func allEvents(evs []eventbus.Event) string {
	var parts []string
	for _, e := range evs {
		if e.Type == eventbus.Open || e.Type == eventbus.Close {
			continue
		}
		s := e.Type.String() + " " + e.Path
		if e.From != "" {
			s += " <- " + e.From
		}
		parts = append(parts, s+" ("+e.Origin.String()+")")
	}
	return strings.Join(parts, "; ")
}

// A log rotated underneath while the mount keeps it open for writing: the
// new file under the old name is another object, and its changes are
// reported (a handle's announcement is about its own file).
func TestUnderneathLogRotatedWhileOpenThroughMount(t *testing.T) {
	eachWriteMode(t, []string{"fanotify", "inotify"}, nil, func(t *testing.T, backend string, extra []string) {
		src, mnt := backingMount(t, backend, extra...)
		s := follow(t, mnt)
		h, err := os.OpenFile(filepath.Join(mnt, "log"), os.O_CREATE|os.O_WRONLY, 0o644)
		must(t, err)
		defer h.Close()
		_, err = h.WriteString("line1\n")
		must(t, err)
		s.synced()
		must(t, os.Rename(filepath.Join(src, "log"), filepath.Join(src, "log.1")))
		must(t, os.WriteFile(filepath.Join(src, "log"), []byte("new\n"), 0o644))
		got := allEvents(s.synced())
		want := "rename log.1 <- log (backing); create log (backing); write log (backing); close_write log (backing)"
		if got != want {
			t.Errorf("rotation underneath:\n got  %s\n want %s", got, want)
		}
	})
}

// fanotify knows the mount's own changes by pid: a change made underneath
// right after the mount's own change to the same file is reported.
func TestUnderneathFanotifyKeepsChangesRightAfterTheMounts(t *testing.T) {
	for _, backend := range []string{"fanotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend, "--no-passthrough")
			s := follow(t, mnt)
			lost := 0
			const n = 20
			for i := range n {
				f := "f" + strconv.Itoa(i)
				must(t, os.WriteFile(filepath.Join(mnt, f), nil, 0o644)) // create through the mount
				must(t, os.Chmod(filepath.Join(src, f), 0o600))          // chmod underneath, after it returned
				got := allEvents(s.synced())
				if !strings.Contains(got, "chmod "+f+" (backing)") {
					lost++
					if lost < 3 {
						t.Logf("%s: %s", f, got)
					}
				}
			}
			if lost > 0 {
				t.Errorf("%d/%d underneath chmods lost (absorbed by the mount's create)", lost, n)
			}
		})
	}
}

// A directory removed while something holds it open reads "(deleted)"
// through /proc: the notes about it are placed by the notes read with
// them, never at that pseudo-path.
func TestUnderneathFanotifyRemovedDirectoryStillOpen(t *testing.T) {
	src, mnt := backingMount(t, "fanotify")
	s := follow(t, mnt)
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "d", "x"), nil, 0o644))
	s.synced()
	held, err := os.Open(filepath.Join(src, "d"))
	must(t, err)
	defer held.Close()
	must(t, os.RemoveAll(filepath.Join(src, "d")))
	got := allEvents(s.synced())
	if got != "remove d/x (backing); rmdir d (backing)" {
		t.Errorf("got %s", got)
	}
}

// After a rescan, directories the mount had looked up and that SOURCE
// still has keep working, also through a descriptor opened before.
func TestUnderneathRescanKeepsLiveNodes(t *testing.T) {
	requireFuse(t)
	old, err := os.ReadFile(inotifyQueueSysctl)
	must(t, err)
	restore := func() { os.WriteFile(inotifyQueueSysctl, old, 0o644) }
	t.Cleanup(restore)
	must(t, os.WriteFile(inotifyQueueSysctl, []byte("32"), 0o644))
	src, mnt := backingMount(t, "inotify")
	restore()
	s := follow(t, mnt)
	must(t, os.MkdirAll(filepath.Join(src, "d"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "d", "x"), []byte("x"), 0o644))
	s.synced()
	dfd, err := unix.Open(filepath.Join(mnt, "d"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	defer unix.Close(dfd)
	var st unix.Stat_t
	must(t, unix.Fstatat(dfd, "x", &st, unix.AT_SYMLINK_NOFOLLOW))

	pid := daemonPid(t, mnt)
	must(t, syscall.Kill(pid, syscall.SIGSTOP))
	for f := range 100 {
		os.WriteFile(filepath.Join(src, "top"+strconv.Itoa(f)), []byte("x"), 0o644)
	}
	must(t, syscall.Kill(pid, syscall.SIGCONT))
	got := summary(s.synced())
	if !strings.Contains(got, "rescan") {
		t.Fatalf("no rescan: %s", got)
	}
	if err := unix.Fstatat(dfd, "x", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Errorf("stat d/x relative to a dirfd opened through the mount, after a rescan: %v", err)
	}
	if err := unix.Fstatat(dfd, "y", &st, unix.AT_SYMLINK_NOFOLLOW); err != unix.ENOENT {
		t.Logf("y: %v", err)
	}
	if fd, err := unix.Openat(dfd, "new", unix.O_CREAT|unix.O_WRONLY, 0o644); err != nil {
		t.Errorf("create relative to the dirfd after a rescan: %v", err)
	} else {
		unix.Close(fd)
	}
	must(t, unix.Lstat(filepath.Join(mnt, "d"), &st))
	if err := unix.Fstatat(dfd, "x", &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Errorf("after a lookup of d by absolute path: %v", err)
	}
}

// A rename underneath over a name the mount has cached (its source name
// never looked up): a descriptor of the replaced file acts on that file,
// not on the one that now has the name.
func TestUnderneathRenameOverCachedName(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			must(t, os.WriteFile(filepath.Join(src, "a"), []byte("A"), 0o644))
			must(t, os.WriteFile(filepath.Join(src, "b"), []byte("B"), 0o644))
			s.synced()
			h, err := os.Open(filepath.Join(mnt, "b"))
			must(t, err)
			defer h.Close()
			must(t, os.Rename(filepath.Join(src, "a"), filepath.Join(src, "b")))
			t.Logf("events: %s", allEvents(s.synced()))
			must(t, unix.Fchmod(int(h.Fd()), 0o600))
			fi, err := os.Lstat(filepath.Join(src, "b"))
			must(t, err)
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("fchmod of the replaced (now unlinked) file through the mount changed SOURCE/b (the former a): mode %v", fi.Mode())
			}
			var hs unix.Stat_t
			must(t, unix.Fstat(int(h.Fd()), &hs))
			t.Logf("old b through its fd: mode %o", hs.Mode&0o777)
			t.Logf("events: %s", allEvents(s.synced()))
		})
	}
}

// A link made and removed underneath: the link count seen through the
// other name follows, despite minute-long cache lifetimes.
func TestUnderneathLinkCountThroughOtherName(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			must(t, os.WriteFile(filepath.Join(src, "f"), []byte("F"), 0o644))
			s.synced()
			var st unix.Stat_t
			must(t, unix.Lstat(filepath.Join(mnt, "f"), &st))
			must(t, os.Link(filepath.Join(src, "f"), filepath.Join(src, "g")))
			s.synced()
			must(t, unix.Lstat(filepath.Join(mnt, "f"), &st))
			if st.Nlink != 2 {
				t.Errorf("after a link underneath: nlink of f through the mount %d, want 2", st.Nlink)
			}
			must(t, os.Remove(filepath.Join(src, "g")))
			s.synced()
			must(t, unix.Lstat(filepath.Join(mnt, "f"), &st))
			if st.Nlink != 1 {
				t.Errorf("after the remove underneath: nlink of f through the mount %d, want 1", st.Nlink)
			}
		})
	}
}

// A file made and linked before the notes are read: a create, then a
// link.
func TestUnderneathCreateThenLink(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			must(t, os.WriteFile(filepath.Join(src, "a"), nil, 0o644))
			must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")))
			got := summary(s.synced())
			if got != "create a (backing); link b (backing)" {
				t.Errorf("got %s", got)
			}
		})
	}
}

// A directory moved in from outside, and a file made in it at once: each
// reported once.
func TestUnderneathMoveInThenCreate(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			outside := filepath.Join(filepath.Dir(src), "outside")
			must(t, os.MkdirAll(filepath.Join(outside, "in"), 0o755))
			must(t, os.WriteFile(filepath.Join(outside, "in", "x"), nil, 0o644))
			must(t, os.Rename(filepath.Join(outside, "in"), filepath.Join(src, "in")))
			must(t, os.WriteFile(filepath.Join(src, "in", "y"), nil, 0o644))
			got := summary(s.synced())
			if got != "mkdir in (backing); create in/x (backing); create in/y (backing)" {
				t.Errorf("got %s", got)
			}
		})
	}
}

// RENAME_EXCHANGE of two directories underneath: later changes inside
// are reported under the right names.
func TestUnderneathExchangeDirectories(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			must(t, os.Mkdir(filepath.Join(src, "a"), 0o755))
			must(t, os.Mkdir(filepath.Join(src, "b"), 0o755))
			must(t, os.WriteFile(filepath.Join(src, "a", "ina"), nil, 0o644))
			s.synced()
			must(t, unix.Renameat2(unix.AT_FDCWD, filepath.Join(src, "a"), unix.AT_FDCWD, filepath.Join(src, "b"), unix.RENAME_EXCHANGE))
			t.Logf("exchange: %s", allEvents(s.synced()))
			// b is now the former a (holds ina).
			must(t, os.WriteFile(filepath.Join(src, "b", "new"), nil, 0o644))
			must(t, os.WriteFile(filepath.Join(src, "a", "new2"), nil, 0o644))
			got := summary(s.synced())
			if got != "create b/new (backing); create a/new2 (backing)" {
				t.Errorf("after the exchange: %s", got)
			}
		})
	}
}

// chmod of a directory underneath, and of SOURCE itself.
func TestUnderneathDirectoryChmod(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			must(t, os.MkdirAll(filepath.Join(src, "d", "e"), 0o755))
			s.synced()
			must(t, os.Chmod(filepath.Join(src, "d", "e"), 0o700))
			must(t, os.Chmod(src, 0o700))
			got := summary(s.synced())
			if got != "chmod d/e (backing); chmod  (backing)" {
				t.Errorf("got %s", got)
			}
		})
	}
}

// A name removed, then another file renamed to it: a remove and a rename
// of the right names.
func TestUnderneathRemoveThenRenameOver(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			p := func(r string) string { return filepath.Join(src, r) }
			must(t, os.WriteFile(p("x"), []byte("old"), 0o644))
			must(t, os.WriteFile(p("tmp"), []byte("new"), 0o644))
			s.synced()
			must(t, os.Remove(p("x")))
			must(t, os.Rename(p("tmp"), p("x")))
			got := summary(s.synced())
			if got != "remove x (backing); rename x <- tmp (backing)" {
				t.Errorf("unlink then rename over the name: %s", got)
			}
		})
	}
}

// A write underneath to a file with two names: the size seen through
// the other name follows.
func TestUnderneathWriteSeenThroughOtherName(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			must(t, os.WriteFile(filepath.Join(src, "f"), []byte("F"), 0o644))
			must(t, os.Link(filepath.Join(src, "f"), filepath.Join(src, "g")))
			s.synced()
			statSize(t, filepath.Join(mnt, "g"), 1)
			writeAt(t, filepath.Join(src, "f"), "FFFF")
			t.Logf("%s", allEvents(s.synced()))
			statSize(t, filepath.Join(mnt, "g"), 4)
		})
	}
}

// A directory moved into a directory made a moment before (too new for
// its watch to see the move): one rename, and later changes in the moved
// tree are still seen.
func TestUnderneathMoveIntoNewDirectory(t *testing.T) {
	for _, backend := range []string{"fanotify", "inotify"} {
		t.Run(backend, func(t *testing.T) {
			src, mnt := backingMount(t, backend)
			s := follow(t, mnt)
			p := func(r string) string { return filepath.Join(src, r) }
			must(t, os.MkdirAll(p("d/sub"), 0o755))
			s.synced()
			must(t, os.Mkdir(p("n"), 0o755))
			must(t, os.Rename(p("d"), p("n/d")))
			t.Logf("move: %s", summary(s.synced()))
			must(t, os.WriteFile(p("n/d/z"), nil, 0o644))
			must(t, os.WriteFile(p("n/d/sub/y"), nil, 0o644))
			got := summary(s.synced())
			if got != "create n/d/z (backing); create n/d/sub/y (backing)" {
				t.Errorf("after the move: %q", got)
			}
		})
	}
}

// inotify beyond its watch limit: a directory it cannot watch is
// reported with a rescan, then polled, so later changes in it (and
// below it) still arrive, and the mount's own changes there are still
// not reported twice.
func TestUnderneathInotifyPollsBeyondTheWatchLimit(t *testing.T) {
	src, mnt := backingMount(t, "inotify", "--max-watches", "1")
	s := follow(t, mnt)
	must(t, os.Mkdir(filepath.Join(src, "d"), 0o755))
	if got := summary(s.synced()); got != "mkdir d (backing); rescan d (backing)" {
		t.Errorf("a directory beyond the limit: %s", got)
	}
	must(t, os.MkdirAll(filepath.Join(src, "d", "sub"), 0o755))
	must(t, os.WriteFile(filepath.Join(src, "d", "sub", "x"), []byte("x"), 0o644))
	if got := summary(s.synced()); got != "mkdir d/sub (backing); create d/sub/x (backing)" {
		t.Errorf("changes in the polled directory: %s", got)
	}
	must(t, os.WriteFile(filepath.Join(mnt, "d", "sub", "y"), []byte("y"), 0o644))
	must(t, os.Rename(filepath.Join(mnt, "d", "sub", "x"), filepath.Join(mnt, "d", "x2")))
	for _, e := range s.synced() {
		if e.Origin == eventbus.OriginBacking {
			t.Errorf("the mount's own change in a polled directory reported again: %s %s", e.Type, e.Path)
		}
	}
	must(t, os.Rename(filepath.Join(src, "d"), filepath.Join(src, "e")))
	must(t, os.Remove(filepath.Join(src, "e", "x2")))
	if got := summary(s.synced()); got != "rename e <- d (backing); remove e/x2 (backing)" {
		t.Errorf("after the polled directory moved: %s", got)
	}
}
