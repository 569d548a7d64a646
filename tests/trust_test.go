//go:build linux

package tests

import (
	"bufio"
	"bytes"
	acl "encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/mountutil"
)

// raceFor is how long attack races run.
const raceFor = 3.0

// A user who may write a directory of SOURCE swaps one of her files with
// a root-only file, directly on SOURCE, while opening hers through the
// mount: the mount must never hand her the root-only file's content.
func TestTrustSwapOpen(t *testing.T) {
	u, m, d := herDirectory(t)
	os.WriteFile(filepath.Join(d, "public"), []byte("public"), 0o644)
	os.WriteFile(filepath.Join(d, "secret"), []byte("SECRET"), 0o600)
	u.own(t, filepath.Join(d, "public"))

	r := raceSwaps(t, u, filepath.Join(d, "public"), filepath.Join(d, "secret"),
		trustJob{Action: "readloop", Args: []string{m.path("d/public"), "SECRET"}})
	if r.Hits > 0 {
		t.Fatalf("%d of %d opens of her own file returned the root-only file's content", r.Hits, r.Count)
	}
}

// herDirectory mounts a fresh SOURCE with a new user who owns its
// directory d (returned as a SOURCE path): she may swap names in it
// directly on SOURCE.
func herDirectory(t *testing.T) (testUser, *mount, string) {
	t.Helper()
	u := newTestUser(t)
	m := newMount(t)
	openParents(t, m.src)
	d := m.srcPath("d")
	must(t, os.Mkdir(d, 0o755))
	u.own(t, d)
	return u, m, d
}

// raceSwaps runs job as u for raceFor seconds while another process of
// hers exchanges a and b directly on SOURCE as fast as it can; both sides
// must have got somewhere.
func raceSwaps(t *testing.T, u testUser, a, b string, job trustJob) trustResult {
	t.Helper()
	swap := startAs(t, u, trustJob{Action: "exchange", Seconds: raceFor, Args: []string{a, b}})
	job.Seconds = raceFor
	r := runAs(t, u, job)
	sw := swap()
	t.Logf("%s: %d done, %d swaps", job.Action, r.Count, sw.Count)
	if r.Count == 0 || sw.Count == 0 {
		t.Fatalf("the race did not run: %d %s, %d swaps", r.Count, job.Action, sw.Count)
	}
	return r
}

// The same swap against chmod 4755 of her own file: the root-owned copy
// of a program must never become setuid.
func TestTrustSwapChmod(t *testing.T) {
	u, m, d := herDirectory(t)
	os.WriteFile(filepath.Join(d, "mine"), []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(d, "rootprog"), []byte("#!/bin/sh\nid\n"), 0o755)
	u.own(t, filepath.Join(d, "mine"))

	raceSwaps(t, u, filepath.Join(d, "mine"), filepath.Join(d, "rootprog"),
		trustJob{Action: "chmodloop", Mode: 0o4755, Args: []string{m.path("d/mine")}})
	for _, name := range []string{"mine", "rootprog"} {
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join(d, name), &st); err != nil {
			t.Fatal(err)
		}
		if st.Uid == 0 && st.Mode&syscall.S_ISUID != 0 {
			t.Fatalf("the root-owned program became setuid root (mode %o)", st.Mode)
		}
	}
}

// Files created through the mount while the names are renamed on SOURCE
// are born hers: no root-owned file ever holds her data.
func TestTrustCreateRace(t *testing.T) {
	u, m, d := herDirectory(t)
	mover := startAs(t, u, trustJob{Action: "renameloop", Seconds: raceFor,
		Args: []string{filepath.Join(d, "f"), filepath.Join(d, "moved")}})
	r := runAs(t, u, trustJob{Action: "createloop", Seconds: raceFor, Args: []string{m.path("d/f"), "her data"}})
	mv := mover()
	t.Logf("%d creates, %d renames", r.Count, mv.Count)
	ents, err := os.ReadDir(d)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		var st syscall.Stat_t
		syscall.Lstat(filepath.Join(d, e.Name()), &st)
		if int(st.Uid) != u.uid || int(st.Gid) != u.gid {
			t.Errorf("%s is owned by %d:%d, not by its creator %d:%d", e.Name(), st.Uid, st.Gid, u.uid, u.gid)
		}
	}
	if r.Count == 0 {
		t.Fatal("nothing was created")
	}
}

// Modes are SOURCE's: a mode-0000 file or directory is closed to her, a
// file is made with her umask alone, and set-id bits she asks for stay.
func TestTrustModes(t *testing.T) {
	u := newTestUser(t)
	m := newMount(t)
	openParents(t, m.src)
	os.WriteFile(m.srcPath("zero"), []byte("closed"), 0)
	os.Mkdir(m.srcPath("zerodir"), 0)
	os.Mkdir(m.srcPath("hers"), 0o755)
	u.own(t, m.srcPath("hers"))
	r := runAs(t, u, trustJob{Action: "script", Umask: 0, Steps: []trustOp{
		{Op: "stat", Path: m.path("zero")},
		{Op: "read", Path: m.path("zero")},
		{Op: "readdir", Path: m.path("zerodir")},
		{Op: "create", Path: m.path("hers/open"), Mode: 0o666},
		{Op: "create", Path: m.path("hers/setuid"), Mode: 0o4755},
		{Op: "mkdir", Path: m.path("hers/dir"), Mode: 0o777},
		{Op: "access", Path: m.path("zero"), Mode: unix.R_OK},
	}})
	s := r.Steps
	if s[0].Err != "" || s[0].Mode != 0 {
		t.Errorf("stat of a mode-0000 file: mode %o err %s, want 0", s[0].Mode, s[0].Err)
	}
	if s[1].Err != "EACCES" {
		t.Errorf("read of a mode-0000 root file as a user: %q, err %s, want EACCES", s[1].Data, s[1].Err)
	}
	if s[2].Err != "EACCES" {
		t.Errorf("listing of a mode-0000 root directory as a user: err %q, want EACCES", s[2].Err)
	}
	if s[3].Err != "" || s[3].Mode != 0o666 || int(s[3].Uid) != u.uid {
		t.Errorf("create 0666 with umask 000: mode %o uid %d err %s, want 0666 owned by %d", s[3].Mode, s[3].Uid, s[3].Err, u.uid)
	}
	if s[4].Err != "" || s[4].Mode != 0o4755 {
		t.Errorf("create 04755: mode %o err %s, want 04755", s[4].Mode, s[4].Err)
	}
	if s[5].Err != "" || s[5].Mode != 0o777 {
		t.Errorf("mkdir 0777 with umask 000: mode %o err %s", s[5].Mode, s[5].Err)
	}
	if s[6].Err != "EACCES" {
		t.Errorf("access(R_OK) of a mode-0000 file: %q, want EACCES", s[6].Err)
	}
	// The same from SOURCE's side: the new objects are hers.
	var st syscall.Stat_t
	syscall.Stat(m.srcPath("hers/setuid"), &st)
	if int(st.Uid) != u.uid || st.Mode&0o7777 != 0o4755 {
		t.Errorf("on SOURCE: uid %d mode %o", st.Uid, st.Mode&0o7777)
	}
}

// Powers the daemon has and the caller has not stay unused: device
// nodes, trusted.* attributes, and the cache of names another user
// looked up in a directory she may not search.
// Both with the kernel's default_permissions (the default as root) and
// without it, where only the daemon's own care keeps cached names from
// serving another user.
func TestTrustNoBorrowedPowers(t *testing.T) {
	u := newTestUser(t)
	for _, kernelChecks := range []bool{true, false} {
		t.Run(fmt.Sprintf("default_permissions=%v", kernelChecks), func(t *testing.T) {
			noBorrowedPowers(t, u, func(c *daemon.Config) { c.FS.DefaultPermissions = kernelChecks })
		})
	}
}

func noBorrowedPowers(t *testing.T, u testUser, opt mountOption) {
	m := newMount(t, opt)
	openParents(t, m.src)
	os.Mkdir(m.srcPath("hers"), 0o755)
	u.own(t, m.srcPath("hers"))
	os.WriteFile(m.srcPath("hers/f"), []byte("x"), 0o644)
	u.own(t, m.srcPath("hers/f"))
	os.MkdirAll(m.srcPath("private/sub"), 0o755)
	os.Chmod(m.srcPath("private"), 0o700)
	os.WriteFile(m.srcPath("private/sub/file"), []byte("private"), 0o644)
	os.Symlink("target-secret", m.srcPath("private/sub/link"))
	// Root looks everything up through the mount: the kernel caches it.
	for _, p := range []string{"private/sub/file", "private/sub/link"} {
		if _, err := os.Lstat(m.path(p)); err != nil {
			t.Fatal(err)
		}
	}
	os.Readlink(m.path("private/sub/link"))
	os.Lstat(m.path("private/sub/missing")) // a negative entry
	os.Lstat(m.path("private/missing"))
	r := runAs(t, u, trustJob{Action: "script", Steps: []trustOp{
		{Op: "mknod", Path: m.path("hers/mem"), Mode: syscall.S_IFCHR | 0o666},
		{Op: "setxattr", Path: m.path("hers/f"), Data: "trusted.x"},
		{Op: "setxattr", Path: m.path("hers/f"), Data: "security.capability"},
		{Op: "stat", Path: m.path("private/sub/file")},
		{Op: "read", Path: m.path("private/sub/file")},
		{Op: "stat", Path: m.path("private/sub/link")},
		{Op: "setxattr", Path: m.path("hers/f"), Data: "user.ok"},
		{Op: "stat", Path: m.path("private/sub/missing")},
		{Op: "stat", Path: m.path("private/missing")},
	}})
	s := r.Steps
	if s[0].Err != "EPERM" {
		t.Errorf("mknod of a device by a user: err %q, want EPERM", s[0].Err)
	}
	if s[1].Err != "EPERM" {
		t.Errorf("setxattr trusted.x by a user: err %q, want EPERM", s[1].Err)
	}
	if s[2].Err == "" {
		t.Error("setxattr security.capability by a user succeeded")
	}
	for i, what := range map[int]string{3: "stat", 4: "read", 5: "stat of a symlink"} {
		if s[i].Err != "EACCES" {
			t.Errorf("%s inside a directory she may not search: err %q, want EACCES", what, s[i].Err)
		}
	}
	if s[6].Err != "" {
		t.Errorf("setxattr user.ok on her own file: %s", s[6].Err)
	}
	for _, i := range []int{7, 8} {
		if s[i].Err != "EACCES" {
			t.Errorf("stat of a missing name inside a directory she may not search: %q, want EACCES (not what root's lookup left cached)", s[i].Err)
		}
	}
}

// A lease held on SOURCE makes an open through the mount wait; nothing
// else waits with it: a rename and a mkdir by root go through at once.
func TestTrustBlockedCallStallsNothingElse(t *testing.T) {
	u := newTestUser(t)
	m := newMount(t, noPassthrough)
	openParents(t, m.src)
	os.WriteFile(m.srcPath("leased"), []byte("x"), 0o644)
	u.own(t, m.srcPath("leased"))
	os.WriteFile(m.srcPath("a"), nil, 0o644)

	cmd := workerCmd(t, u, trustJob{Action: "lease", Args: []string{m.srcPath("leased")}})
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "leased" {
		t.Fatalf("lease worker said %q", lines.Text())
	}
	opened := make(chan error, 1)
	go func() {
		f, err := os.Open(m.path("leased")) // breaks the lease: waits for it
		if err == nil {
			f.Close()
		}
		opened <- err
	}()
	if !lines.Scan() || lines.Text() != "broken" {
		t.Fatalf("lease worker said %q", lines.Text())
	}
	// The open now waits in the daemon for the lease holder.
	done := make(chan error, 1)
	go func() {
		if err := os.Rename(m.path("a"), m.path("b")); err != nil {
			done <- err
			return
		}
		done <- os.Mkdir(m.path("newdir"), 0o755)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLimit):
		t.Fatal("a rename and a mkdir waited for an unrelated open blocked on a lease")
	}
	select {
	case <-opened:
		t.Fatal("the open did not wait for the lease")
	default:
	}
	stdin.Close() // the holder exits, the lease goes, the open completes
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
}

// One user opening files without end runs out alone.
func TestTrustHandleBudget(t *testing.T) {
	u := newTestUser(t)
	m := newMount(t, func(c *daemon.Config) { c.FS.MaxHandlesPerUser = 64 })
	openParents(t, m.src)
	os.WriteFile(m.srcPath("f"), []byte("x"), 0o644)
	cmd := workerCmd(t, u, trustJob{Action: "openmany", Args: []string{m.path("f")}})
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() {
		t.Fatal("no answer from the worker")
	}
	got := lines.Text()
	if !strings.Contains(got, `"count":64`) || !strings.Contains(got, `"err":"EMFILE"`) {
		t.Fatalf("worker: %s, want 64 handles then EMFILE", got)
	}
	// Root, and everyone else, still open files.
	for i := 0; i < 100; i++ {
		f, err := os.Open(m.path("f"))
		if err != nil {
			t.Fatalf("root's open %d while a user holds her share: %v", i, err)
		}
		defer f.Close()
	}
	if st := m.d.Status().HandlesByUID; st[itoa(u.uid)] != 64 {
		t.Errorf("status handles_by_uid = %v", st)
	}
}

// Depth is SOURCE's, for root and for a user: a tree deeper than a path
// from the root can name (PATH_MAX) is made and read through the mount.
func TestTrustDeepTree(t *testing.T) {
	u := newTestUser(t)
	m := newMount(t)
	openParents(t, m.src)
	// 1500 levels of "dd/" name 4500 bytes: more than PATH_MAX, where the
	// mount used to stop (at depth 1366).
	if err := deepTreeAt(m.mnt, "dd", 1500); err != nil {
		t.Fatalf("as root: %v", err)
	}
	os.Mkdir(m.srcPath("hers"), 0o755)
	u.own(t, m.srcPath("hers"))
	r := runAs(t, u, trustJob{Action: "script", Steps: []trustOp{{Op: "deep", Path: m.path("hers"), Data: "dd", Mode: 1500}}})
	if r.Steps[0].Err != "" {
		t.Fatalf("as a user: %s", r.Steps[0].Err)
	}
}

func deepTreeAt(dir, name string, depth int) error { return deepTree(dir, name, depth) }

// RENAME_WHITEOUT leaves a whiteout at the old name: it is reported.
func TestTrustWhiteoutReported(t *testing.T) {
	m := newMount(t)
	r := m.record(t)
	os.WriteFile(m.path("a"), nil, 0o644)
	r.until(isType(eventbus.CloseWrite, "a"))
	err := unix.Renameat2(unix.AT_FDCWD, m.path("a"), unix.AT_FDCWD, m.path("b"), unix.RENAME_WHITEOUT)
	if err == unix.EINVAL {
		cannotRun(t, "SOURCE's filesystem has no whiteouts")
	}
	if err != nil {
		t.Fatal(err)
	}
	expect(t, r.synced(), os.Getpid(),
		want{Type: eventbus.Rename, Path: "b", From: "a"},
		want{Type: eventbus.Mknod, Path: "a"})
}

// SOURCE removed and made again under a running mount: the mount stops
// serving the dead tree, subscribers are told, and the daemon leaves.
func TestTrustSourceReplaced(t *testing.T) {
	src, mnt := binMount(t)
	watch := exec.Command(binary, "watch", "--format", "json", "--timeout", waitLimit.String(), mnt)
	out, _ := watch.StdoutPipe()
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer watch.Wait()
	lines := bufio.NewScanner(out)
	mustRun(t, "sync", mnt) // the watcher is connected once sync answers after it started
	os.RemoveAll(src)
	os.Mkdir(src, 0o755)
	os.WriteFile(filepath.Join(src, "new"), nil, 0o644)
	sawUnmount := false
	for lines.Scan() {
		if strings.Contains(lines.Text(), `"type":"unmount"`) {
			sawUnmount = true
			break
		}
	}
	if !sawUnmount {
		t.Fatal("no unmount event after SOURCE was replaced")
	}
	if _, err := os.Stat(filepath.Join(mnt, "new")); err == nil {
		t.Error("the mount shows the new SOURCE's file")
	}
}

// A bind mount of an ancestor of the mount point placed inside SOURCE
// leads from SOURCE back into this very mount: the daemon refuses to
// follow it (ELOOP) rather than wait on itself.
func TestTrustNoSelfRecursion(t *testing.T) {
	m := newMount(t)
	loop := m.srcPath("loop")
	if err := os.Mkdir(loop, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(filepath.Dir(m.src), loop, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		t.Fatalf("bind mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(loop, unix.MNT_DETACH) })
	os.WriteFile(m.path("a"), nil, 0o644)
	done := make(chan error, 1)
	go func() {
		if _, err := os.ReadDir(m.path("loop")); err != nil {
			done <- err
			return
		}
		// A rename through the loop made the daemon wait on its own
		// rename lock; now the loop is refused at its first step.
		err := os.Rename(m.path("loop/mnt/a"), m.path("loop/mnt/b"))
		if err == nil {
			err = os.Mkdir(m.path("loop/mnt/loop/x"), 0o755)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errorsIs(err, syscall.ELOOP) {
			t.Fatalf("going through SOURCE into the mount itself: %v, want ELOOP", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("the mount hung on a path that leads back into itself")
	}
	// The rest of the mount is unaffected.
	if err := os.WriteFile(m.path("ok"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func errorsIs(err error, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// Writes under kernel passthrough, closed and followed at once by a
// RENAME_EXCHANGE through the mount: the backing file's late close is
// the mount's own, whichever name the file has by the time the watcher
// reads the note. No backing event may come out of it.
func TestTrustPassthroughCloseThenExchange(t *testing.T) {
	src, mnt := backingMount(t, "fanotify")
	s := follow(t, mnt)
	for _, n := range []string{"a", "b"} {
		must(t, os.WriteFile(filepath.Join(mnt, n), []byte(n), 0o644))
	}
	s.synced()
	// One file is written, the other never: its name, after each
	// exchange, is where the written file's close is read from.
	names := []string{"a", "b"}
	for i := 0; i < 500; i++ {
		f, err := os.OpenFile(filepath.Join(mnt, names[i%2]), os.O_WRONLY|os.O_TRUNC, 0)
		must(t, err)
		f.Write([]byte("data"))
		f.Close()
		must(t, unix.Renameat2(unix.AT_FDCWD, filepath.Join(mnt, "a"), unix.AT_FDCWD, filepath.Join(mnt, "b"), unix.RENAME_EXCHANGE))
	}
	evs := s.synced()
	// The last closes are read by the next look at the queue.
	must(t, os.WriteFile(filepath.Join(mnt, "c"), nil, 0o644))
	evs = append(evs, s.synced()...)
	for _, e := range evs {
		if e.Origin == eventbus.OriginBacking {
			t.Fatalf("an echo of the mount's own change came out as %s %s (origin backing)", e.Type, e.Path)
		}
	}
	_ = src
}

// A user's write to a set-id file she may write (but does not own)
// clears its set-id bits, as it would natively: with and without kernel
// passthrough.
func TestTrustWriteClearsSetID(t *testing.T) {
	u := newTestUser(t)
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			openParents(t, m.src)
			for _, n := range []string{"suid", "sgid"} {
				os.WriteFile(m.srcPath(n), []byte("#!/bin/sh\n"), 0o755)
			}
			os.Chmod(m.srcPath("suid"), 0o4777)
			os.Chmod(m.srcPath("sgid"), 0o2777)
			r := runAs(t, u, trustJob{Action: "script", Steps: []trustOp{
				{Op: "writeat", Path: m.path("suid"), Data: "#"},
				{Op: "writeat", Path: m.path("sgid"), Data: "#"},
			}})
			for i, n := range []string{"suid", "sgid"} {
				if r.Steps[i].Err != "" {
					t.Fatalf("write to %s: %s", n, r.Steps[i].Err)
				}
				var st syscall.Stat_t
				syscall.Stat(m.srcPath(n), &st)
				if st.Mode&(syscall.S_ISUID|syscall.S_ISGID) != 0 {
					t.Errorf("%s kept its set-id bits after a user's write: mode %o", n, st.Mode&0o7777)
				}
			}
		})
	}
}

// capNetRawEP is the security.capability value `setcap cap_net_raw+ep`
// writes: VFS_CAP_REVISION_2 with the effective flag, CAP_NET_RAW (13)
// permitted, nothing inheritable.
var capNetRawEP = []byte{0x01, 0, 0, 0x02, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// A file's capabilities are what the mount reports while it is open —
// the kernel asks for them before every write, and the daemon answers
// from the open descriptor then — and a write clears them, by root
// through an open handle and by a user who may write the file, with and
// without kernel passthrough.
func TestTrustWriteClearsCapabilities(t *testing.T) {
	u := newTestUser(t)
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			openParents(t, m.src)
			for _, n := range []string{"root", "user", "owned", "other"} {
				must(t, os.WriteFile(m.srcPath(n), []byte("#!/bin/sh\n"), 0o777))
				must(t, unix.Setxattr(m.srcPath(n), "security.capability", capNetRawEP, 0))
			}
			must(t, os.Chmod(m.srcPath("other"), 0o755)) // hers to run, not to write
			u.own(t, m.srcPath("owned"))
			must(t, os.Chmod(m.srcPath("owned"), 0o555))
			must(t, unix.Setxattr(m.srcPath("owned"), "security.capability", capNetRawEP, 0)) // chown dropped them
			caps := func(p string) ([]byte, error) {
				buf := make([]byte, 64)
				n, err := unix.Getxattr(p, "security.capability", buf)
				if err != nil {
					return nil, err
				}
				return buf[:n], nil
			}

			f, err := os.OpenFile(m.path("root"), os.O_RDWR, 0)
			must(t, err)
			got, err := caps(m.path("root"))
			if err != nil || !bytes.Equal(got, capNetRawEP) {
				t.Errorf("capabilities through the mount while open: %x, %v; want %x", got, err, capNetRawEP)
			}
			if _, err := f.WriteAt([]byte("#"), 0); err != nil {
				t.Fatal(err)
			}
			must(t, f.Close())

			r := runAs(t, u, trustJob{Action: "script", Steps: []trustOp{
				{Op: "writeat", Path: m.path("user"), Data: "#"},
				{Op: "chown", Path: m.path("owned"), Data: fmt.Sprintf("%d:-1", u.uid)},
				{Op: "removexattr", Path: m.path("other"), Data: "security.capability"},
			}})
			if r.Steps[0].Err != "" {
				t.Fatalf("a user's write: %s", r.Steps[0].Err)
			}
			if r.Steps[1].Err != "" {
				t.Fatalf("the owner's chown to herself: %s", r.Steps[1].Err)
			}
			// Natively: EPERM, she may neither write nor chown it.
			if r.Steps[2].Err != "EPERM" {
				t.Errorf("removexattr security.capability of a file she may not write: err %q, want EPERM", r.Steps[2].Err)
			}
			if got, err := caps(m.srcPath("other")); err != nil || !bytes.Equal(got, capNetRawEP) {
				t.Errorf("capabilities of a file she may not write, after her removexattr: %x, %v; want them kept", got, err)
			}
			for _, n := range []string{"root", "user", "owned"} {
				for _, p := range []string{m.srcPath(n), m.path(n)} {
					if got, err := caps(p); err != unix.ENODATA {
						t.Errorf("%s after a write: capabilities %x, err %v; want ENODATA (cleared)", p, got, err)
					}
				}
			}
		})
	}
}

// posixACL encodes a system.posix_acl_access value: owner, group and
// other from mode, plus read access for the user uid (and the mask).
func posixACL(mode uint32, uid int) []byte {
	const (
		tagUserObj, tagUser, tagGroupObj, tagMask, tagOther = 0x01, 0x02, 0x04, 0x10, 0x20
		undefinedID                                         = 0xffffffff
	)
	b := acl.LittleEndian.AppendUint32(nil, 2) // version
	entry := func(tag, perm uint16, id uint32) {
		b = acl.LittleEndian.AppendUint16(b, tag)
		b = acl.LittleEndian.AppendUint16(b, perm)
		b = acl.LittleEndian.AppendUint32(b, id)
	}
	entry(tagUserObj, uint16(mode>>6&7), undefinedID)
	entry(tagUser, 4, uint32(uid))
	entry(tagGroupObj, uint16(mode>>3&7), undefinedID)
	entry(tagMask, 4|uint16(mode>>3&7), undefinedID)
	entry(tagOther, uint16(mode&7), undefinedID)
	return b
}

// A POSIX ACL on SOURCE grants through the mount what it grants
// natively, and denies what it denies, with the kernel's check on.
func TestTrustACLGrants(t *testing.T) {
	u := newTestUser(t)
	m := newMount(t)
	openParents(t, m.src)
	must(t, os.WriteFile(m.srcPath("granted"), []byte("by acl"), 0o600))
	must(t, os.WriteFile(m.srcPath("closed"), []byte("closed"), 0o600))
	if err := unix.Setxattr(m.srcPath("granted"), "system.posix_acl_access", posixACL(0o600, u.uid), 0); err != nil {
		cannotRun(t, "SOURCE has no POSIX ACLs: "+err.Error())
	}
	native := runAs(t, u, trustJob{Action: "script", Steps: []trustOp{
		{Op: "read", Path: m.srcPath("granted")}, {Op: "read", Path: m.srcPath("closed")}}})
	mount := runAs(t, u, trustJob{Action: "script", Steps: []trustOp{
		{Op: "read", Path: m.path("granted")}, {Op: "read", Path: m.path("closed")}}})
	for i, name := range []string{"granted", "closed"} {
		if native.Steps[i] != mount.Steps[i] {
			t.Errorf("read of %s: natively %+v, through the mount %+v", name, native.Steps[i], mount.Steps[i])
		}
	}
	if native.Steps[0].Err != "" {
		t.Fatalf("the ACL did not grant natively: %s", native.Steps[0].Err)
	}
}

// interactive starts job as u and returns a way to wait for its next line
// of output, its standard input, and its result once the input closes.
func interactive(t *testing.T, u testUser, job trustJob) (next func() string, stdin io.WriteCloser, result func() trustResult) {
	t.Helper()
	cmd := workerCmd(t, u, job)
	stdin, _ = cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewReader(out)
	next = func() string {
		l, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("worker %s: %v", job.Action, err)
		}
		return strings.TrimSpace(l)
	}
	result = func() trustResult {
		var r trustResult
		if err := json.Unmarshal([]byte(next()), &r); err != nil {
			t.Fatalf("worker %s: %v", job.Action, err)
		}
		return r
	}
	return next, stdin, result
}

// A user cannot truncate another user's file through that user's open
// handle: once the file has no name left, a truncate of it (by its
// /proc/self/fd link) is checked against her own rights, not against
// the other handle's open mode (found by review: it truncated the
// victim's data).
func TestTrustNoTruncateThroughOthersHandle(t *testing.T) {
	a, b := newTestUser(t), newTestUser(t)
	for _, kernelChecks := range []bool{true, false} {
		t.Run(fmt.Sprintf("default_permissions=%v", kernelChecks), func(t *testing.T) {
			m := newMount(t, func(c *daemon.Config) { c.FS.DefaultPermissions = kernelChecks })
			openParents(t, m.src)
			must(t, os.Mkdir(m.srcPath("shared"), 0o777))
			must(t, os.WriteFile(m.srcPath("shared/db"), nil, 0o644))
			b.own(t, m.srcPath("shared/db"))
			holdNext, holdIn, holdResult := interactive(t, b, trustJob{Action: "holdwrite", Args: []string{m.path("shared/db"), "victim's data"}})
			if l := holdNext(); l != "held" {
				t.Fatalf("holder: %q", l)
			}
			atkNext, atkIn, atkResult := interactive(t, a, trustJob{Action: "pathtruncate", Args: []string{m.path("shared/db")}})
			if l := atkNext(); l != "held" {
				t.Fatalf("attacker: %q", l)
			}
			must(t, os.Remove(m.path("shared/db"))) // the file has no name left
			atkIn.Write([]byte("go\n"))
			r := atkResult()
			holdIn.Close()
			if size := holdResult().Count; size != len("victim's data") {
				t.Fatalf("the victim's file has %d bytes left (truncate by another user: %q)", size, r.Err)
			}
			if r.Err == "" {
				t.Fatal("the truncate succeeded")
			}
		})
	}
}

// Directories held open count against their user's handle budget too
// (found by review: a user could take every descriptor of the daemon by
// holding directories open).
func TestTrustDirectoryHandlesBudgeted(t *testing.T) {
	u := newTestUser(t)
	m := newMount(t, func(c *daemon.Config) { c.FS.MaxHandlesPerUser = 32 })
	openParents(t, m.src)
	must(t, os.Mkdir(m.srcPath("d"), 0o755))
	next, stdin, _ := interactive(t, u, trustJob{Action: "openmany", Args: []string{m.path("d")}})
	got := next()
	stdin.Close()
	if !strings.Contains(got, `"count":32`) || !strings.Contains(got, `"err":"EMFILE"`) {
		t.Fatalf("worker: %s, want 32 directory handles then EMFILE", got)
	}
}

// A user's write through a handle opened before the file became set-id
// still clears the bits, as natively (found by review: under passthrough
// the backing file's credentials kept them).
func TestTrustSetIDAfterOpenCleared(t *testing.T) {
	a, b := newTestUser(t), newTestUser(t)
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			openParents(t, m.src)
			must(t, os.WriteFile(m.srcPath("tool"), []byte("#!/bin/sh\n"), 0o777))
			b.own(t, m.srcPath("tool"))
			next, stdin, result := interactive(t, a, trustJob{Action: "writelater", Args: []string{m.path("tool"), "#"}})
			if l := next(); l != "held" {
				t.Fatalf("writer: %q", l)
			}
			must(t, syscall.Chmod(m.srcPath("tool"), 0o4777)) // the owner, meanwhile
			stdin.Write([]byte("go\n"))
			if r := result(); r.Err != "" {
				t.Fatalf("write: %s", r.Err)
			}
			var st syscall.Stat_t
			must(t, syscall.Stat(m.srcPath("tool"), &st))
			if st.Mode&syscall.S_ISUID != 0 {
				t.Fatalf("another user's write left the file set-uid: mode %o", st.Mode&0o7777)
			}
		})
	}
}

// A fifo swapped in on SOURCE under the name of a file the mount knows
// is never opened by the daemon (found by review: the open waited for a
// partner on a daemon thread for as long as the caller liked, a thread
// per attempt).
func TestTrustFifoSwapHoldsNoDaemonThread(t *testing.T) {
	src, mnt := binMount(t, "--underneath", "off")
	var st struct {
		Pid int `json:"pid"`
	}
	must(t, json.Unmarshal([]byte(mustRun(t, "status", "--format", "json", mnt)), &st))
	if st.Pid == 0 {
		t.Fatal("status has no daemon pid")
	}
	var openers []*exec.Cmd
	defer func() {
		// A writer on SOURCE gives every waiting open its partner, in the
		// kernel or (before the fix) in the daemon, where SIGKILL alone
		// could not end it.
		for i := range openers {
			if fd, err := unix.Open(filepath.Join(src, fmt.Sprintf("f%d", i)), unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				unix.Close(fd)
			}
		}
		for _, c := range openers {
			c.Process.Kill()
			c.Wait()
		}
	}()
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("f%d", i)
		must(t, os.WriteFile(filepath.Join(src, name), nil, 0o644))
		if _, err := os.Stat(filepath.Join(mnt, name)); err != nil { // the mount knows a regular file
			t.Fatal(err)
		}
		tmp := filepath.Join(src, name+".fifo")
		must(t, syscall.Mkfifo(tmp, 0o644))
		must(t, os.Rename(tmp, filepath.Join(src, name)))
		c := exec.Command("cat", filepath.Join(mnt, name))
		must(t, c.Start())
		openers = append(openers, c)
		// Wait (bounded) until the opener waits somewhere: on the fifo in
		// its own kernel call, or on the daemon.
		deadline := time.Now().Add(waitLimit)
		for !strings.Contains(kernelStacks(c.Process.Pid), "wait_for_partner") &&
			!strings.Contains(kernelStacks(c.Process.Pid), "request_wait_answer") {
			if time.Now().After(deadline) {
				t.Fatalf("the opener of %s never waited", name)
			}
			runtime.Gosched()
		}
	}
	if s := kernelStacks(st.Pid); strings.Contains(s, "wait_for_partner") {
		t.Fatalf("daemon threads wait on fifos:\n%s", s)
	}
}

// kernelStacks is what /proc says every thread of pid waits in.
func kernelStacks(pid int) string {
	var b strings.Builder
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stack", pid))
	for _, p := range tasks {
		s, _ := os.ReadFile(p)
		b.Write(s)
	}
	return b.String()
}

// A daemon in a pid namespace of its own cannot read the groups and
// capabilities of callers outside it (FUSE reports their pid as 0): it
// refuses them rather than act with their ids alone (found by review:
// a root caller without capabilities read another user's 0600 file).
func TestTrustCallersOutsidePidNamespaceRefused(t *testing.T) {
	requireFuse(t)
	u := newTestUser(t)
	dir := t.TempDir()
	src, mnt := filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	must(t, os.Mkdir(src, 0o755))
	must(t, os.Mkdir(mnt, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "secret"), []byte("hers"), 0o600))
	u.own(t, filepath.Join(src, "secret"))
	// --kill-child: the daemon (pid 1 of the new namespace) goes with
	// unshare if the test has to end it.
	d := exec.Command("unshare", "--pid", "--fork", "--kill-child", binary, "mount", "-f", "--journal", "none", "--underneath", "off", src, mnt)
	must(t, d.Start())
	t.Cleanup(func() {
		cleanupMount(t, mnt) // the daemon leaves once unmounted
		exited := make(chan struct{})
		go func() { d.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(waitLimit):
			d.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(waitLimit)
	for {
		if _, ok, _ := mountutil.Lookup(mnt); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the daemon in its own pid namespace never mounted")
		}
		runtime.Gosched()
	}
	// Root without capabilities: natively EACCES on her 0600 file.
	out, err := exec.Command("setpriv", "--inh-caps=-all", "--bounding-set=-all", "cat", filepath.Join(mnt, "secret")).CombinedOutput()
	if err == nil {
		t.Fatalf("a root caller without capabilities read another user's 0600 file through the mount: %q", out)
	}
}
