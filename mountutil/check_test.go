package mountutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckOverlap(t *testing.T) {
	for _, c := range []struct {
		src, mnt string
		overlap  bool
	}{
		{"/a/src", "/a/mnt", false},
		{"/a/src", "/a/src", true},
		{"/a/src", "/a/src/mnt", true},
		{"/a/src/x", "/a/src", true},
		{"/a/src", "/a/srcmnt", false},
		{"/", "/mnt", true},
	} {
		err := CheckOverlap(c.src, c.mnt)
		if (err != nil) != c.overlap || (err != nil && !errors.Is(err, ErrOverlap)) {
			t.Errorf("CheckOverlap(%q, %q) = %v, want overlap %v", c.src, c.mnt, err, c.overlap)
		}
	}
}

func TestCanonicalDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	link := filepath.Join(dir, "link")
	os.Symlink(dir, link)
	if got, err := CanonicalDir("source", link); err != nil || got != dir {
		t.Errorf("symlink to dir: %q, %v", got, err)
	}
	if _, err := CanonicalDir("source", file); !errors.Is(err, ErrNotDir) {
		t.Errorf("file: %v, want ErrNotDir", err)
	}
	_, err := CanonicalDir("source", filepath.Join(dir, "missing"))
	if err == nil || !strings.Contains(err.Error(), "no such file") || !strings.Contains(err.Error(), "source") {
		t.Errorf("missing: %v", err)
	}
}

func TestSocketPathShortAndStable(t *testing.T) {
	long := "/" + strings.Repeat("very-long-directory-name/", 20) + "mnt"
	p := SocketPath(long)
	if len(p) > 100 {
		t.Errorf("socket path %q too long for sun_path", p)
	}
	if p != SocketPath(long) || p == SocketPath(long+"2") {
		t.Error("socket path not a stable function of the mount point")
	}
}

func TestLookupFindsRoot(t *testing.T) {
	mi, ok, err := Lookup("/")
	if err != nil || !ok || mi.FSType == "" {
		t.Errorf("Lookup(/) = %+v %v %v", mi, ok, err)
	}
	if _, ok, _ := Lookup(t.TempDir()); ok {
		t.Error("a plain directory reported as a mount point")
	}
}
