//go:build linux

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"
)

// While a process keeps swapping a directory of SOURCE for a symlink to a
// directory outside it, operations through the mount race against the
// swaps. None of them may ever read, create, change or remove anything
// outside SOURCE.
//
// The operations resolve their paths on the mount with
// RESOLVE_NO_SYMLINKS: a symlink in SOURCE legitimately shows as a
// symlink on the mount, and a caller that follows it leaves the mount by
// its own choice. What is tested is that the daemon never does.
func TestConfinementSymlinkRace(t *testing.T) {
	m := newMount(t, noPassthrough)
	outside := filepath.Join(filepath.Dir(m.src), "outside")
	os.Mkdir(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("SECRET"), 0o644)
	os.Mkdir(m.srcPath("d"), 0o755)
	os.WriteFile(m.srcPath("d/secret"), []byte("inside"), 0o644)
	// The mount learns "d" as a directory before the race starts.
	if _, err := os.Stat(m.path("d/secret")); err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var swaps atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop.Store(true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		d, real := m.srcPath("d"), m.srcPath("d.real")
		for !stop.Load() {
			if os.Rename(d, real) != nil {
				continue
			}
			os.Symlink(outside, d)
			os.Remove(d)
			os.Rename(real, d)
			swaps.Add(1)
		}
	}()

	mnt, err := unix.Open(m.mnt, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(mnt)
	noFollow := func(rel string, flags int, mode uint32) (int, error) {
		return unix.Openat2(mnt, rel, &unix.OpenHow{
			Flags: uint64(flags | unix.O_CLOEXEC), Mode: uint64(mode),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
		})
	}
	const rounds = 3000
	buf := make([]byte, 64)
	for i := 0; i < rounds; i++ {
		if fd, err := noFollow("d/secret", unix.O_RDWR, 0); err == nil {
			n, _ := unix.Pread(fd, buf, 0)
			if string(buf[:n]) == "SECRET" {
				t.Fatalf("read %q through the mount: escaped SOURCE", buf[:n])
			}
			unix.Fchmod(fd, 0o600)
			unix.Ftruncate(fd, 6)
			unix.Fsetxattr(fd, "user.x", []byte("1"), 0)
			unix.Close(fd)
		}
		if fd, err := noFollow(fmt.Sprintf("d/new%d", i), unix.O_CREAT|unix.O_WRONLY, 0o644); err == nil {
			unix.Close(fd)
		}
		if dfd, err := noFollow("d", unix.O_PATH|unix.O_DIRECTORY, 0); err == nil {
			unix.Unlinkat(dfd, fmt.Sprintf("new%d", i), 0)
			unix.Mkdirat(dfd, fmt.Sprintf("dir%d", i), 0o755)
			unix.Symlinkat("x", dfd, fmt.Sprintf("sl%d", i))
			unix.Fchmodat(dfd, "secret", 0o600, 0)
			unix.Unlinkat(dfd, "secret", 0)
			if fd, err := unix.Openat(dfd, "secret", unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW, 0o644); err == nil {
				unix.Write(fd, []byte("inside"))
				unix.Close(fd)
			}
			unix.Close(dfd)
		}
	}
	stop.Store(true)
	wg.Wait()
	if swaps.Load() == 0 {
		t.Fatal("the swapper never swapped; the test proved nothing")
	}

	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("objects appeared outside SOURCE: %v", names)
	}
	var st unix.Stat_t
	unix.Stat(filepath.Join(outside, "secret"), &st)
	if st.Mode&0o777 != 0o644 || st.Size != 6 {
		t.Errorf("outside file changed: mode %o size %d", st.Mode&0o777, st.Size)
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "SECRET" {
		t.Errorf("outside file content changed: %q", b)
	}
	if sz, _ := unix.Getxattr(filepath.Join(outside, "secret"), "user.x", nil); sz > 0 {
		t.Errorf("outside file got an xattr")
	}
	t.Logf("%d swaps raced against %d rounds of operations", swaps.Load(), rounds)
}
