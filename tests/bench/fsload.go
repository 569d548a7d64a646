package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The file-system workloads. Each runs in a directory of one system and
// returns its figure; all use raw system calls, so that what is measured
// is the file system, not Go's os package.

const filesPerDir = 1000

// smallFiles returns the paths of n files spread over directories of
// filesPerDir under dir.
func smallFiles(dir string, n int) (dirs, files []string) {
	for i := 0; i < n; i++ {
		if i%filesPerDir == 0 {
			dirs = append(dirs, filepath.Join(dir, fmt.Sprintf("d%04d", i/filesPerDir)))
		}
		files = append(files, filepath.Join(dirs[len(dirs)-1], "f"+strconv.Itoa(i)))
	}
	return dirs, files
}

func mkdirs(dirs []string) error {
	for _, d := range dirs {
		if err := unix.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", d, err)
		}
	}
	return nil
}

var block4k = make([]byte, 4096)

// createWriteClose creates each file, writes 4 KiB and closes it.
func createWriteClose(files []string) (time.Duration, error) {
	t0 := time.Now()
	for _, f := range files {
		fd, err := unix.Open(f, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return 0, fmt.Errorf("create %s: %w", f, err)
		}
		if _, err := unix.Write(fd, block4k); err != nil {
			unix.Close(fd)
			return 0, fmt.Errorf("write %s: %w", f, err)
		}
		if err := unix.Close(fd); err != nil {
			return 0, fmt.Errorf("close %s: %w", f, err)
		}
	}
	return time.Since(t0), nil
}

func statAll(files []string) (time.Duration, error) {
	var st unix.Stat_t
	t0 := time.Now()
	for _, f := range files {
		if err := unix.Lstat(f, &st); err != nil {
			return 0, fmt.Errorf("stat %s: %w", f, err)
		}
	}
	return time.Since(t0), nil
}

// listDir reads every name of dir (getdents, no stat) and returns how
// many there were.
func listDir(dir string) (int, time.Duration, error) {
	t0 := time.Now()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 64<<10)
	n := 0
	for {
		m, err := unix.Getdents(fd, buf)
		if err != nil {
			return 0, 0, err
		}
		if m == 0 {
			break
		}
		c, _, _ := unix.ParseDirent(buf[:m], -1, nil)
		n += c
	}
	return n, time.Since(t0), nil
}

func renameAll(files []string) (time.Duration, error) {
	t0 := time.Now()
	for _, f := range files {
		if err := unix.Rename(f, f+".r"); err != nil {
			return 0, fmt.Errorf("rename %s: %w", f, err)
		}
	}
	return time.Since(t0), nil
}

func unlinkAll(files []string, suffix string) (time.Duration, error) {
	t0 := time.Now()
	for _, f := range files {
		if err := unix.Unlink(f + suffix); err != nil {
			return 0, fmt.Errorf("unlink %s: %w", f+suffix, err)
		}
	}
	return time.Since(t0), nil
}

func rmdirs(dirs []string) error {
	for _, d := range dirs {
		if err := unix.Rmdir(d); err != nil {
			return fmt.Errorf("rmdir %s: %w", d, err)
		}
	}
	return nil
}

const seqBlock = 1 << 20

// seqWrite writes size bytes to a new file in 1 MiB writes and closes it.
func seqWrite(path string, size int64) (time.Duration, error) {
	buf := make([]byte, seqBlock)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	t0 := time.Now()
	fd, err := unix.Open(path, unix.O_CREAT|unix.O_TRUNC|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return 0, err
	}
	for off := int64(0); off < size; off += seqBlock {
		if _, err := unix.Write(fd, buf); err != nil {
			unix.Close(fd)
			return 0, err
		}
	}
	if err := unix.Close(fd); err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// seqRead reads the file to its end in 1 MiB reads.
func seqRead(path string) (int64, time.Duration, error) {
	buf := make([]byte, seqBlock)
	t0 := time.Now()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(fd)
	var total int64
	for {
		m, err := unix.Read(fd, buf)
		if err != nil {
			return 0, 0, err
		}
		if m == 0 {
			break
		}
		total += int64(m)
	}
	return total, time.Since(t0), nil
}

// randRead makes n 4 KiB preads at random 4 KiB-aligned offsets.
func randRead(path string, size int64, n int) (time.Duration, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 4096)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	blocks := size / 4096
	t0 := time.Now()
	for i := 0; i < n; i++ {
		off := rng.Int64N(blocks) * 4096
		if _, err := unix.Pread(fd, buf, off); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

// timedCmd runs a command to completion and returns its wall time.
func timedCmd(dir string, name string, args ...string) (time.Duration, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	el := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("%s %v: %v\n%s", name, args, err, tailLines(string(out), 10))
	}
	return el, nil
}

// timedQuiet runs a command with its standard output going to /dev/null
// (as `CMD > /dev/null`) and returns its wall time. env is added to the
// environment.
func timedQuiet(dir string, env []string, name string, args ...string) (time.Duration, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var errOut strings.Builder
	cmd.Stderr = &errOut // Stdout nil: /dev/null
	t0 := time.Now()
	err := cmd.Run()
	el := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("%s %v: %v\n%s", name, args, err, tailLines(errOut.String(), 10))
	}
	return el, nil
}

// prepareTarball makes the real-world workload's input once: the Go
// distribution's own source tree (or a part of it in quick mode), as a
// git repository with one commit, packed as an uncompressed tar (so that
// decompression does not hide the file system's cost), and a bare clone
// of that repository on the data file system outside every SOURCE, which
// git clone reads natively on every system.
func prepareTarball(cfg *config, e *env) (tarball, bare string, files int, err error) {
	goroot := filepath.Dir(filepath.Dir(e.goTool))
	src := filepath.Join(goroot, "src")
	if cfg.tarSubset != "" {
		src = filepath.Join(src, cfg.tarSubset)
	}
	if _, err := os.Stat(src); err != nil {
		return "", "", 0, fmt.Errorf("Go source tree not found at %s: %w", src, err)
	}
	work := filepath.Join(e.scratch, "tarball")
	tree := filepath.Join(work, "go")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", "", 0, err
	}
	bare = filepath.Join(e.data, "clone-src.git")
	steps := [][]string{
		{"cp", "-a", src, tree},
		{"git", "-C", tree, "init", "-q"},
		{"git", "-C", tree, "add", "-A"},
		{"git", "-C", tree, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "import"},
		{"git", "-C", tree, "gc", "-q"}, // packed, as a clone would be
		{"tar", "-C", work, "-cf", filepath.Join(work, "go-src.tar"), "go"},
		{"git", "clone", "-q", "--bare", "--no-hardlinks", tree, bare},
	}
	for _, s := range steps {
		if _, err := timedCmd(work, s[0], s[1:]...); err != nil {
			return "", "", 0, err
		}
	}
	filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	os.RemoveAll(tree)
	return filepath.Join(work, "go-src.tar"), bare, files, nil
}

// populateFlat makes n empty files in dir (natively, before mounting).
func populateFlat(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		fd, err := unix.Open(filepath.Join(dir, "entry-"+strconv.Itoa(i)), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		unix.Close(fd)
	}
	return nil
}
