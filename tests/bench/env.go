package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const scratchPrefix = "notifyfs-bench-"

// env is what every section shares: tools, paths, machine facts.
type env struct {
	scratch     string
	data        string // where every SOURCE lives: a fresh ext4 on a loop device
	dataFS      string // what data is, for the report
	repo        string // repository root (the main module)
	goTool      string
	notifyfs    string // built daemon binary
	self        string // this binary, for helper subcommands
	bindfs      string // "" if unavailable
	bindfsWhy   string
	inotifywait string
	inotifyWhy  string
	machine     machineInfo
}

type machineInfo struct {
	Kernel, CPU, Cores, Memory, GoVersion, GoFuse, SourceFS string
	MaxQueuedEvents                                         string
	BindfsVersion, InotifyToolsVersion, GitVersion          string
	Passthrough                                             string
	Date                                                    string
}

func prepare(cfg *config, scratch string) (*env, error) {
	e := &env{scratch: scratch}
	var err error
	if e.self, err = os.Executable(); err != nil {
		return nil, err
	}
	if e.repo, err = findRepo(); err != nil {
		return nil, err
	}
	e.goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(e.goTool); err != nil {
		if e.goTool, err = exec.LookPath("go"); err != nil {
			return nil, fmt.Errorf("go tool not found")
		}
	}
	e.notifyfs = filepath.Join(scratch, "notifyfs")
	logf("building %s", e.notifyfs)
	build := exec.Command(e.goTool, "build", "-o", e.notifyfs, "./cmd/notifyfs")
	build.Dir = e.repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build notifyfs: %v\n%s", err, out)
	}
	if err := makeDataFS(e); err != nil {
		return nil, err
	}
	installPeers(cfg)
	if p, err := exec.LookPath("bindfs"); err == nil {
		e.bindfs = p
	} else {
		e.bindfsWhy = "bindfs is not installed (apt-get install bindfs)"
	}
	if p, err := exec.LookPath("inotifywait"); err == nil {
		e.inotifywait = p
	} else {
		e.inotifyWhy = "inotifywait is not installed (apt-get install inotify-tools)"
	}
	e.machine = gatherMachine(e)
	return e, nil
}

// makeDataFS gives every SOURCE a fresh, dedicated file system: an ext4
// (default features, with its journal) on a loop device backed by a
// sparse file in memory (/dev/shm), so that what is measured is the
// file systems' pathways and not the virtual disk's mood (writeback of a
// 1 GiB file to the disk made sequential-write figures swing by 10×).
// It is new for every run, so that every run starts from the same state:
// the machine's root file system has been through earlier runs (on an
// ext4 without a journal each new inode then scans past every recently
// deleted one, which made creates there slow in a way that depended on
// history). Without /dev/shm the image lives in the scratch directory;
// without mkfs.ext4 or loop devices the scratch directory is used as is.
func makeDataFS(e *env) error {
	e.data = filepath.Join(e.scratch, "data")
	if err := os.MkdirAll(e.data, 0o755); err != nil {
		return err
	}
	img := filepath.Join(e.scratch, "data.img")
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() && strings.HasPrefix(fsType("/dev/shm"), "tmpfs") {
		img = filepath.Join("/dev/shm", filepath.Base(e.scratch)+".img")
	}
	fallback := func(why string) error {
		logf("no dedicated file system (%s): using %s as it is", why, e.data)
		e.dataFS = fsType(e.data) + "; no dedicated file system: " + why
		return nil
	}
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		return err
	}
	if err := os.Truncate(img, 32<<30); err != nil {
		return fallback(err.Error())
	}
	mkfs := exec.Command("mkfs.ext4", "-q", "-F", "-N", "4000000", "-E", "lazy_itable_init=1,lazy_journal_init=1", img)
	if out, err := mkfs.CombinedOutput(); err != nil {
		os.Remove(img)
		return fallback(fmt.Sprintf("mkfs.ext4: %v %s", err, strings.TrimSpace(string(out))))
	}
	// noinit_itable: no background zeroing of inode tables during the run;
	// discard: freed blocks are given back to the image's memory.
	mnt := exec.Command("mount", "-o", "loop,noinit_itable,discard", img, e.data)
	if out, err := mnt.CombinedOutput(); err != nil {
		os.Remove(img)
		return fallback(fmt.Sprintf("mount -o loop: %v %s", err, strings.TrimSpace(string(out))))
	}
	data := e.data
	atExit("data file system", func() error {
		var err error
		for i := 0; i < 50; i++ {
			if err = unix.Unmount(data, 0); err == nil || err == unix.EINVAL {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil && err != unix.EINVAL {
			err = unix.Unmount(data, unix.MNT_DETACH)
		}
		os.Remove(img)
		if err == unix.EINVAL {
			return nil
		}
		return err
	})
	e.dataFS = "ext4 (mkfs.ext4 defaults, with journal) on a loop device over a sparse file in " + filepath.Dir(img) + " (" + strings.Fields(fsType(filepath.Dir(img)))[0] + ")"
	return nil
}

// findRepo walks up from the working directory to the main module.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module github.com/notifyfs/notifyfs\n")) {
			return d, nil
		}
		if d == filepath.Dir(d) {
			return "", fmt.Errorf("run from inside the notifyfs repository (no go.mod of github.com/notifyfs/notifyfs above %s)", dir)
		}
	}
}

// installPeers installs bindfs and inotify-tools from Debian when they are
// missing and we may (root, apt-get present).
func installPeers(cfg *config) {
	var missing []string
	if _, err := exec.LookPath("bindfs"); err != nil {
		missing = append(missing, "bindfs")
	}
	if _, err := exec.LookPath("inotifywait"); err != nil {
		missing = append(missing, "inotify-tools")
	}
	if len(missing) == 0 {
		return
	}
	if cfg.skipApt {
		logf("missing peers %v: install them with apt-get install -y %s", missing, strings.Join(missing, " "))
		return
	}
	apt, err := exec.LookPath("apt-get")
	if err != nil {
		logf("missing peers %v and no apt-get: install them by hand", missing)
		return
	}
	logf("installing %v from Debian", missing)
	upd := exec.Command(apt, "update")
	if out, err := upd.CombinedOutput(); err != nil {
		logf("apt-get update: %v\n%s", err, out)
	}
	inst := exec.Command(apt, append([]string{"install", "-y", "--no-install-recommends"}, missing...)...)
	inst.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	if out, err := inst.CombinedOutput(); err != nil {
		logf("apt-get install %v: %v\n%s", missing, err, out)
	}
}

func gatherMachine(e *env) machineInfo {
	m := machineInfo{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m.Kernel = unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	m.Cores = fmt.Sprint(runtime.NumCPU())
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(v), &kb)
				m.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	m.GoVersion = cmdOut(e.goTool, "version")
	m.GoFuse = goFuseVersion(e.repo)
	m.SourceFS = e.dataFS
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		m.MaxQueuedEvents = strings.TrimSpace(string(b))
	}
	if e.bindfs != "" {
		m.BindfsVersion = cmdOut(e.bindfs, "--version")
	}
	if e.inotifywait != "" {
		m.InotifyToolsVersion = firstLine(cmdOut("dpkg-query", "-W", "-f=${Version}", "inotify-tools"))
	}
	m.GitVersion = cmdOut("git", "--version")
	return m
}

func cmdOut(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "?"
	}
	return firstLine(strings.TrimSpace(string(out)))
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func goFuseVersion(repo string) string { return modVersion(repo, "github.com/hanwen/go-fuse/v2") }

// modVersion is the version of module mod in repo's go.mod ("?" if none).
func modVersion(repo, mod string) string {
	b, err := os.ReadFile(filepath.Join(repo, "go.mod"))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == mod {
			return f[1]
		}
		if len(f) >= 3 && f[0] == "require" && f[1] == mod {
			return f[2]
		}
	}
	return "?"
}

// fsType names the file system holding dir, from the mount table.
func fsType(dir string) string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "?"
	}
	best, typ, src := "", "?", ""
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 10 {
			continue
		}
		sep := -1
		for i := 6; i < len(f); i++ {
			if f[i] == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(f) {
			continue
		}
		p := f[4]
		if (dir == p || strings.HasPrefix(dir, strings.TrimSuffix(p, "/")+"/")) && len(p) >= len(best) {
			best, typ, src = p, f[sep+1], f[sep+2]
		}
	}
	return fmt.Sprintf("%s on %s (mounted at %s)", typ, src, best)
}

// fuseMountsUnder lists FUSE mount points whose path contains prefix.
func fuseMountsUnder(prefix string) []string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && strings.HasPrefix(f[2], "fuse") && strings.Contains(f[1], "/"+prefix) {
			out = append(out, f[1])
		}
	}
	return out
}

// clearStaleScratchMounts removes mounts left by an earlier run that was
// killed with SIGKILL (nothing could clean up then).
func clearStaleScratchMounts() {
	var stale []string
	if b, err := os.ReadFile("/proc/mounts"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 3 && strings.Contains(f[1], "/"+scratchPrefix) {
				stale = append(stale, f[1])
			}
		}
	}
	for i := len(stale) - 1; i >= 0; i-- { // the data file system last
		m := stale[i]
		logf("removing stale mount %s left by an earlier run", m)
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			logf("unmount %s: %v", m, err)
		}
	}
	// Images of the data file system left in memory by a killed run.
	imgs, _ := filepath.Glob("/dev/shm/" + scratchPrefix + "*.img")
	for _, img := range imgs {
		logf("removing %s left by an earlier run", img)
		os.Remove(img)
	}
}

// isMounted reports whether p is a mount point of a FUSE file system.
func isMounted(p string) bool {
	for _, m := range fuseMountsUnder("") {
		if m == p {
			return true
		}
	}
	return false
}
