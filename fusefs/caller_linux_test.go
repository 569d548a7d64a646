package fusefs

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

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
