//go:build linux

package tests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tests about who may do what run parts of themselves as a real
// unprivileged user: useradd in the test, userdel when it ends (even on
// failure), and a copy of this test binary started with that user's
// credentials (trustWorker), dispatched from init like the model worker.

const trustWorkerEnv = "NOTIFYFS_TRUST_WORKER"

// testUser is a real user made for one test.
type testUser struct {
	name     string
	uid, gid int
}

// newTestUser adds a user with its own group and removes both when the
// test ends.
func newTestUser(t *testing.T) testUser {
	t.Helper()
	requireFuse(t)
	name := fmt.Sprintf("nfst%06d", rand.Intn(1000000))
	out, err := exec.Command("useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
	if err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
		exec.Command("groupdel", name).Run() // gone with the user on Debian
	})
	id := func(flag string) int {
		out, err := exec.Command("id", flag, name).Output()
		if err != nil {
			t.Fatalf("id %s %s: %v", flag, name, err)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
		return n
	}
	return testUser{name: name, uid: id("-u"), gid: id("-g")}
}

// own gives paths to the user.
func (u testUser) own(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Lchown(p, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
}

var (
	workerBinOnce sync.Once
	workerBin     string
	workerBinErr  error
)

// userBinary is a copy of this test binary that any user may run (the
// go tool builds it in a directory only root can enter). It is removed by
// TestMain's cleanup of the binary directory.
func userBinary(t *testing.T) string {
	t.Helper()
	workerBinOnce.Do(func() {
		self, err := os.Executable()
		if err != nil {
			workerBinErr = err
			return
		}
		dir := filepath.Dir(binary) // TestMain's directory, removed at exit
		if err := os.Chmod(dir, 0o755); err != nil {
			workerBinErr = err
			return
		}
		workerBin = filepath.Join(dir, "trust-worker")
		in, err := os.Open(self)
		if err != nil {
			workerBinErr = err
			return
		}
		defer in.Close()
		out, err := os.OpenFile(workerBin, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
		if err != nil {
			workerBinErr = err
			return
		}
		_, workerBinErr = io.Copy(out, in)
		if err := out.Close(); workerBinErr == nil {
			workerBinErr = err
		}
	})
	if workerBinErr != nil {
		t.Fatalf("worker binary: %v", workerBinErr)
	}
	return workerBin
}

// trustJob is what a worker does.
type trustJob struct {
	Action  string    `json:"action"`
	Args    []string  `json:"args,omitempty"`
	Seconds float64   `json:"seconds,omitempty"`
	Mode    uint32    `json:"mode,omitempty"`
	Steps   []trustOp `json:"steps,omitempty"`
	Umask   int       `json:"umask"`
}

// trustOp is one step of a "script" job.
type trustOp struct {
	Op   string `json:"op"`
	Path string `json:"path"`
	Mode uint32 `json:"mode,omitempty"`
	Data string `json:"data,omitempty"`
}

// trustResult is a worker's answer.
type trustResult struct {
	Count int            `json:"count"`
	Hits  int            `json:"hits"`
	Err   string         `json:"err,omitempty"`
	Steps []trustStepOut `json:"steps,omitempty"`
}

type trustStepOut struct {
	Err  string `json:"err,omitempty"`
	Mode uint32 `json:"mode"`
	Uid  uint32 `json:"uid"`
	Data string `json:"data,omitempty"`
}

// runAs runs job as u and returns its result.
func runAs(t *testing.T, u testUser, job trustJob) trustResult {
	t.Helper()
	cmd := workerCmd(t, u, job)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("worker %s as %s: %v: %s", job.Action, u.name, err, errb.String())
	}
	var r trustResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("worker %s: bad output %q: %v", job.Action, out.String(), err)
	}
	return r
}

func workerCmd(t *testing.T, u testUser, job trustJob) *exec.Cmd {
	spec, _ := json.Marshal(job)
	cmd := exec.Command(userBinary(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), trustWorkerEnv+"="+string(spec))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	cmd.Dir = "/"
	return cmd
}

// startAs starts a worker that runs until it ends by itself; wait for
// its result with the returned function.
func startAs(t *testing.T, u testUser, job trustJob) func() trustResult {
	t.Helper()
	cmd := workerCmd(t, u, job)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	var r trustResult
	wait := func() trustResult {
		once.Do(func() {
			if err := cmd.Wait(); err != nil {
				t.Errorf("worker %s: %v: %s", job.Action, err, errb.String())
				return
			}
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Errorf("worker %s: bad output %q", job.Action, out.String())
			}
		})
		return r
	}
	t.Cleanup(func() { cmd.Process.Kill(); wait() })
	return wait
}

func init() {
	spec := os.Getenv(trustWorkerEnv)
	if spec == "" {
		return
	}
	var job trustJob
	if err := json.Unmarshal([]byte(spec), &job); err != nil {
		fmt.Fprintln(os.Stderr, "trust worker:", err)
		os.Exit(3)
	}
	syscall.Umask(job.Umask)
	r := trustWork(job)
	json.NewEncoder(os.Stdout).Encode(r)
	os.Exit(0)
}

func errName(err error) string {
	if err == nil {
		return ""
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return unix.ErrnoName(errno)
	}
	return err.Error()
}

// trustWork is the body of a worker process.
func trustWork(job trustJob) trustResult {
	var r trustResult
	deadline := time.Now().Add(time.Duration(job.Seconds * float64(time.Second)))
	for_ := func(fn func(i int)) {
		for i := 0; time.Now().Before(deadline); i++ {
			fn(i)
		}
	}
	switch job.Action {
	case "script":
		for _, s := range job.Steps {
			r.Steps = append(r.Steps, trustStep(s))
		}
	case "exchange":
		for_(func(int) {
			unix.Renameat2(unix.AT_FDCWD, job.Args[0], unix.AT_FDCWD, job.Args[1], unix.RENAME_EXCHANGE)
			r.Count++
		})
	case "readloop": // Args: path, forbidden content
		for_(func(int) {
			if b, err := os.ReadFile(job.Args[0]); err == nil {
				r.Count++
				if string(b) == job.Args[1] {
					r.Hits++
				}
			}
		})
	case "chmodloop": // Count: attempts (most fail with ESTALE while names swap)
		for_(func(int) {
			os.Chmod(job.Args[0], os.FileMode(job.Mode&0o777)|modeBits(job.Mode))
			r.Count++
		})
	case "renameloop":
		for_(func(int) {
			if os.Rename(job.Args[0], job.Args[1]) == nil {
				r.Count++
			}
		})
	case "createloop": // Args: path, data; a new file each time it is gone
		for_(func(i int) {
			p := job.Args[0]
			fd, err := unix.Open(p, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o644)
			if err != nil {
				os.Remove(p)
				return
			}
			unix.Write(fd, []byte(job.Args[1]))
			unix.Close(fd)
			r.Count++
		})
	case "openmany": // opens Args[0] until an error, holds them until stdin closes
		var fds []int
		for len(fds) < 100000 {
			fd, err := unix.Open(job.Args[0], unix.O_RDONLY, 0)
			if err != nil {
				r.Err = errName(err)
				break
			}
			fds = append(fds, fd)
		}
		r.Count = len(fds)
		fmt.Fprintf(os.Stderr, "opened %d: %s\n", r.Count, r.Err)
		json.NewEncoder(os.Stdout).Encode(r)
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "pathtruncate": // holds Args[0] with O_PATH; after a line on stdin, truncates it through /proc/self/fd
		fd, err := unix.Open(job.Args[0], unix.O_PATH, 0)
		if err != nil {
			r.Err = errName(err)
			return r
		}
		fmt.Println("held")
		bufio.NewReader(os.Stdin).ReadString('\n')
		r.Err = errName(unix.Truncate(fmt.Sprintf("/proc/self/fd/%d", fd), 0))
	case "writelater": // opens Args[0] for writing, says "held", writes Args[1] after a line on stdin
		fd, err := unix.Open(job.Args[0], unix.O_WRONLY, 0)
		if err != nil {
			r.Err = errName(err)
			return r
		}
		fmt.Println("held")
		bufio.NewReader(os.Stdin).ReadString('\n')
		_, err = unix.Pwrite(fd, []byte(job.Args[1]), 0)
		r.Err = errName(err)
		unix.Close(fd)
	case "holdwrite": // opens Args[0] read-write, writes Args[1], says "held", keeps it open until stdin closes, reports its size
		fd, err := unix.Open(job.Args[0], unix.O_RDWR, 0)
		if err == nil {
			_, err = unix.Write(fd, []byte(job.Args[1]))
		}
		if err != nil {
			r.Err = errName(err)
			return r
		}
		fmt.Println("held")
		io.Copy(io.Discard, os.Stdin)
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		r.Count = int(st.Size)
	case "lease": // takes a write lease on Args[0]; says "leased", then "broken"
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGIO)
		fd, err := unix.Open(job.Args[0], unix.O_RDWR, 0)
		if err == nil {
			_, err = unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_WRLCK)
		}
		if err != nil {
			r.Err = errName(err)
			return r
		}
		w := bufio.NewWriter(os.Stdout)
		fmt.Fprintln(w, "leased")
		w.Flush()
		<-sigs
		fmt.Fprintln(w, "broken")
		w.Flush()
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	default:
		if fn := extraTrustActions[job.Action]; fn != nil {
			return fn(job)
		}
		r.Err = "unknown action " + job.Action
	}
	return r
}

// extraTrustActions are worker actions defined beside the tests that use
// them (registered by package-level variables, which are set before any
// init runs, so before the worker dispatch above).
var extraTrustActions = map[string]func(trustJob) trustResult{}

// modeBits turns the set-id and sticky bits of a mode into Go's.
func modeBits(m uint32) os.FileMode {
	var fm os.FileMode
	if m&0o4000 != 0 {
		fm |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= os.ModeSticky
	}
	return fm
}

func trustStep(s trustOp) trustStepOut {
	var o trustStepOut
	var err error
	switch s.Op {
	case "stat":
		var st unix.Stat_t
		if err = unix.Lstat(s.Path, &st); err == nil {
			o.Mode, o.Uid = st.Mode&0o7777, st.Uid
		}
	case "read":
		var b []byte
		b, err = os.ReadFile(s.Path)
		o.Data = string(b)
	case "readdir":
		var ents []os.DirEntry
		ents, err = os.ReadDir(s.Path)
		o.Data = fmt.Sprint(len(ents))
	case "create":
		var fd int
		fd, err = unix.Open(s.Path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, s.Mode)
		if err == nil {
			unix.Write(fd, []byte(s.Data))
			unix.Close(fd)
			var st unix.Stat_t
			unix.Lstat(s.Path, &st)
			o.Mode, o.Uid = st.Mode&0o7777, st.Uid
		}
	case "mkdir":
		if err = unix.Mkdir(s.Path, s.Mode); err == nil {
			var st unix.Stat_t
			unix.Lstat(s.Path, &st)
			o.Mode, o.Uid = st.Mode&0o7777, st.Uid
		}
	case "chmod":
		err = unix.Chmod(s.Path, s.Mode)
	case "access":
		err = unix.Faccessat(unix.AT_FDCWD, s.Path, s.Mode, 0)
	case "write":
		err = os.WriteFile(s.Path, []byte(s.Data), 0o644)
	case "writeat": // writes without truncating
		var fd int
		if fd, err = unix.Open(s.Path, unix.O_WRONLY, 0); err == nil {
			_, err = unix.Pwrite(fd, []byte(s.Data), 0)
			unix.Close(fd)
		}
	case "unlink":
		err = unix.Unlink(s.Path)
	case "setxattr":
		err = unix.Lsetxattr(s.Path, s.Data, []byte("x"), 0)
	case "getxattr":
		buf := make([]byte, 256)
		var n int
		n, err = unix.Lgetxattr(s.Path, s.Data, buf)
		if err == nil {
			o.Data = string(buf[:n])
		}
	case "mknod":
		err = unix.Mknod(s.Path, s.Mode, int(unix.Mkdev(1, 3)))
	case "deep": // makes s.Mode levels of s.Data below s.Path, walking by descriptors, then a file
		err = deepTree(s.Path, s.Data, int(s.Mode))
	// The steps below serve the conformance table (conformance_test.go);
	// each is one system call (or an open, one call and a close) so that
	// its errno is the kernel's answer to exactly that call.
	case "open": // Data: open flags (decimal); closed at once
		o, err = confOpen(s.Path, s.Data, s.Mode)
	case "chown", "lchown": // Data: "uid:gid", -1 keeps one
		err = confChown(s.Path, s.Data, s.Op == "lchown")
	case "rmdir":
		err = unix.Rmdir(s.Path)
	case "rename": // Path to Data
		err = unix.Rename(s.Path, s.Data)
	case "link": // Path to Data, not following a symlink at Path
		err = unix.Link(s.Path, s.Data)
	case "symlink": // a link at Path that says Data
		err = unix.Symlink(s.Data, s.Path)
	case "truncate": // to s.Mode bytes
		err = unix.Truncate(s.Path, int64(s.Mode))
	case "ftruncate": // Data: open flags (decimal); to s.Mode bytes
		err = confFtruncate(s.Path, s.Data, int64(s.Mode), false)
	case "fchmod0-ftruncate": // open for writing, fchmod 0, then ftruncate to s.Mode bytes
		err = confFtruncate(s.Path, strconv.Itoa(unix.O_WRONLY), int64(s.Mode), true)
	case "utimens": // Data: now, null, omit, explicit, now-omit
		err = confUtimens(s.Path, s.Data)
	case "chdir":
		if err = unix.Chdir(s.Path); err == nil {
			err = unix.Chdir("/")
		}
	case "removexattr":
		err = unix.Lremovexattr(s.Path, s.Data)
	default:
		err = errors.New("unknown op " + s.Op)
	}
	o.Err = errName(err)
	return o
}

// deepTree makes depth directories called name below dir, one inside the
// other, walking by descriptors (no path is ever longer than a name),
// puts a file at the bottom and reads it back by its whole path in
// PATH_MAX-sized chunks relative to descriptors.
func deepTree(dir, name string, depth int) error {
	cur, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	for i := 0; i < depth; i++ {
		if err := unix.Mkdirat(cur, name, 0o755); err != nil && err != unix.EEXIST {
			unix.Close(cur)
			return fmt.Errorf("mkdir at depth %d: %w", i, err)
		}
		next, err := unix.Openat(cur, name, unix.O_PATH|unix.O_DIRECTORY, 0)
		unix.Close(cur)
		if err != nil {
			return fmt.Errorf("open at depth %d: %w", i, err)
		}
		cur = next
	}
	defer unix.Close(cur)
	fd, err := unix.Openat(cur, "leaf", unix.O_CREAT|unix.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create at depth %d: %w", depth, err)
	}
	unix.Write(fd, []byte("deep"))
	unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstatat(cur, "leaf", &st, 0); err != nil || st.Size != 4 {
		return fmt.Errorf("stat at depth %d: %v", depth, err)
	}
	return nil
}
