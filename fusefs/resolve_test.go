package fusefs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSplitJoinRel(t *testing.T) {
	for _, c := range []struct{ rel, dir, name string }{
		{"", "", "."}, {"a", "", "a"}, {"a/b", "a", "b"}, {"a/b/c", "a/b", "c"},
	} {
		d, n := splitRel(c.rel)
		if d != c.dir || n != c.name {
			t.Errorf("splitRel(%q) = %q, %q", c.rel, d, n)
		}
		if c.rel != "" && joinRel(d, n) != c.rel {
			t.Errorf("joinRel(%q, %q) = %q", d, n, joinRel(d, n))
		}
	}
}

// Both resolvers refuse a symlink anywhere on the path and open plain
// paths beneath the root.
func TestOpenBeneathRefusesSymlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, "d", "e"), 0o755)
	os.WriteFile(filepath.Join(root, "d", "e", "f"), []byte("ok"), 0o644)
	os.Symlink(outside, filepath.Join(root, "esc"))
	os.Symlink("../..", filepath.Join(root, "d", "up"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "d", "lnk"))
	rootfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rootfd)
	for name, open := range map[string]func(int, string, int) (int, error){
		"openBeneath": openBeneath, "walkBeneath": walkBeneath,
	} {
		fd, err := open(rootfd, "d/e/f", unix.O_RDONLY)
		if err != nil {
			t.Errorf("%s(d/e/f): %v", name, err)
		} else {
			unix.Close(fd)
		}
		for _, bad := range []string{"esc/secret", "d/up/etc", "d/lnk", "esc"} {
			if fd, err := open(rootfd, bad, unix.O_RDONLY); err == nil {
				unix.Close(fd)
				t.Errorf("%s(%s) opened a path through a symlink", name, bad)
			}
		}
	}
}

func TestResolveThreadOfThisProcess(t *testing.T) {
	if pid := resolveThread(uint32(unix.Gettid())); int(pid) != os.Getpid() {
		t.Errorf("resolveThread(own tid) = %d, want %d", pid, os.Getpid())
	}
	if pid := resolveThread(1 << 30); pid != 1<<30 {
		t.Errorf("unknown tid: %d", pid)
	}
	var names procNames
	defer names.close()
	if comm := names.of(uint32(os.Getpid())); comm == "" {
		t.Error("no command name for this process")
	}
	if comm := names.of(1 << 30); comm != "" {
		t.Errorf("name for a process that does not exist: %q", comm)
	}
}

// The descriptor offered for passthrough is the handle's file, opened
// again read-only (a writable one, closed by the kernel long after the
// handle, would look like a writer's close to a watcher of SOURCE).
func TestReopenReadOnly(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	fd, err := unix.Open(p, unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	ro, err := reopenReadOnly(fd)
	if err != nil {
		t.Fatalf("reopenReadOnly: %v", err)
	}
	defer unix.Close(ro)
	var a, b unix.Stat_t
	unix.Fstat(fd, &a)
	unix.Fstat(ro, &b)
	if a.Ino != b.Ino || a.Dev != b.Dev {
		t.Error("reopened another file")
	}
	if fl, _ := unix.FcntlInt(uintptr(ro), unix.F_GETFL, 0); fl&unix.O_ACCMODE != unix.O_RDONLY {
		t.Errorf("reopened with flags %#o, want read-only", fl)
	}
}
