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
