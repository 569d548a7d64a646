package beneath

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

func openRoot(t *testing.T, dir string) int {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// Both resolvers (openat2 and the component walk) open plain paths and
// refuse a symlink anywhere on the way, "..", and absolute paths.
func TestRefusesEscapes(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, "d", "e"), 0o755)
	os.WriteFile(filepath.Join(root, "d", "e", "f"), []byte("ok"), 0o644)
	os.Symlink(outside, filepath.Join(root, "esc"))
	os.Symlink("../..", filepath.Join(root, "d", "up"))
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "d", "lnk"))
	rootfd := openRoot(t, root)
	for name, fn := range map[string]func(int, string, int) (int, error){"Open": Open, "walk": walk} {
		fd, err := fn(rootfd, "d/e/f", unix.O_RDONLY)
		if err != nil {
			t.Errorf("%s(d/e/f): %v", name, err)
		} else {
			unix.Close(fd)
		}
		for _, bad := range []string{"esc/secret", "d/up/etc", "d/lnk", "esc"} {
			if fd, err := fn(rootfd, bad, unix.O_RDONLY); err == nil {
				unix.Close(fd)
				t.Errorf("%s(%s) went through a symlink", name, bad)
			}
		}
	}
	for _, bad := range []string{"../x", "d/../../x", "/etc/passwd"} {
		if fd, err := Open(rootfd, bad, unix.O_RDONLY); err == nil {
			unix.Close(fd)
			t.Errorf("Open(%s) succeeded", bad)
		}
	}
}

// A path longer than PATH_MAX opens, in chunks: depth is not limited by
// the length of the path from the root.
func TestLongPath(t *testing.T) {
	root := t.TempDir()
	rootfd := openRoot(t, root)
	comps := make([]string, 1500) // 3000 characters of "d/" and more
	for i := range comps {
		comps[i] = "dd"
	}
	cur := rootfd
	for i, c := range comps {
		if err := unix.Mkdirat(cur, c, 0o755); err != nil {
			t.Fatalf("mkdir at depth %d: %v", i, err)
		}
		next, err := unix.Openat(cur, c, DirFlags, 0)
		if err != nil {
			t.Fatal(err)
		}
		if cur != rootfd {
			unix.Close(cur)
		}
		cur = next
	}
	fd, err := unix.Openat(cur, "leaf", unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	unix.Close(cur)
	rel := strings.Join(comps, "/") + "/leaf"
	if len(rel) <= maxChunk {
		t.Fatalf("path of %d bytes is not long enough to test chunking", len(rel))
	}
	fd, err = Open(rootfd, rel, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("Open of a %d-byte path: %v", len(rel), err)
	}
	unix.Close(fd)
	// The chunks are confined too: a symlink deep in a long path is refused.
	deep := strings.Join(comps[:1200], "/")
	dir := filepath.Join(root, deep)
	os.Rename(filepath.Join(dir, "dd"), filepath.Join(dir, "real"))
	os.Symlink("real", filepath.Join(dir, "dd"))
	if fd, err := Open(rootfd, rel, unix.O_RDONLY); err == nil {
		unix.Close(fd)
		t.Error("a symlink in a long path was followed")
	}
}

// While a directory is swapped for a symlink to the outside as fast as
// possible, no open ever lands outside.
func TestSwapRace(t *testing.T) {
	root, outside := t.TempDir(), t.TempDir()
	os.Mkdir(filepath.Join(root, "d"), 0o755)
	os.WriteFile(filepath.Join(root, "d", "f"), []byte("in"), 0o644)
	os.WriteFile(filepath.Join(outside, "f"), []byte("OUT"), 0o644)
	rootfd := openRoot(t, root)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		d, real := filepath.Join(root, "d"), filepath.Join(root, "real")
		for !stop.Load() {
			os.Rename(d, real)
			os.Symlink(outside, d)
			os.Remove(d)
			os.Rename(real, d)
		}
	}()
	buf := make([]byte, 8)
	for i := 0; i < 20000; i++ {
		fd, err := Open(rootfd, "d/f", unix.O_RDONLY)
		if err != nil {
			continue
		}
		n, _ := unix.Pread(fd, buf, 0)
		unix.Close(fd)
		if string(buf[:n]) == "OUT" {
			stop.Store(true)
			wg.Wait()
			t.Fatal("opened a file outside through a swapped symlink")
		}
	}
	stop.Store(true)
	wg.Wait()
}
