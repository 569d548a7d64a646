package kqshim

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The watcher reads SOURCE only beneath its descriptor: a directory of
// SOURCE swapped for a symlink to the outside is never scanned, stat'ed
// or read through.
func TestWatcherReadsOnlyBeneathSource(t *testing.T) {
	src, outside := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o644)
	os.Symlink("target", filepath.Join(outside, "link"))
	os.Symlink(outside, filepath.Join(src, "d"))
	fd, err := syscall.Open(src, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{source: src, rootfd: fd}
	defer s.close()
	if tr, err := scan(fd, "d"); err == nil {
		t.Errorf("scanned through a symlink: %v", tr)
	}
	if _, err := s.statRel("d/secret"); err == nil {
		t.Error("stat'ed through a symlink")
	}
	if target, err := s.readlinkRel("d/link"); err == nil {
		t.Errorf("read a link through a symlink: %q", target)
	}
	if names, err := readDirNames(fd, "d"); err == nil {
		t.Errorf("listed through a symlink: %v", names)
	}
}
