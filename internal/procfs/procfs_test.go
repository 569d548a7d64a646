//go:build linux

package procfs

import (
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSelf(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := uint32(unix.Gettid())
	if got := Tgid(tid); got != uint32(os.Getpid()) {
		t.Errorf("Tgid(%d) = %d, want %d", tid, got, os.Getpid())
	}
	task, err := ReadTask(uint32(os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	if task.Uid[Effective] != uint32(os.Geteuid()) || task.Gid[Effective] != uint32(os.Getegid()) || task.Comm == "" {
		t.Errorf("task %+v", task)
	}
	groups, _ := os.Getgroups()
	if len(task.Groups) != len(groups) {
		t.Errorf("groups %v, want %v", task.Groups, groups)
	}
	var c Comms
	defer c.Close()
	if c.Of(uint32(os.Getpid())) != task.Comm {
		t.Errorf("Comms.Of = %q, want %q", c.Of(uint32(os.Getpid())), task.Comm)
	}
}

// TestGone: a task that has exited is reported as itself by Tgid, and
// its name is the last one read.
func TestGone(t *testing.T) {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := uint32(cmd.Process.Pid)
	var c Comms
	defer c.Close()
	if c.Of(pid) != "sleep" {
		t.Fatalf("Comms.Of = %q", c.Of(pid))
	}
	cmd.Process.Kill()
	cmd.Wait()
	if got := Tgid(pid); got != pid {
		t.Errorf("Tgid of a gone task = %d", got)
	}
	if _, err := ReadStatus(pid); err == nil {
		t.Error("ReadStatus of a gone task succeeded")
	}
	if c.Of(pid) != "sleep" {
		t.Errorf("Comms.Of after exit = %q, want the last name", c.Of(pid))
	}
}

func TestParseStatus(t *testing.T) {
	in := "Name:\tx\nTgid:\t7\nPid:\t8\nUid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nGroups:\t\n"
	st, err := parseStatus([]byte(in), 8)
	if err != nil || st.Tgid != 7 || st.Uid != [4]uint32{1, 2, 3, 4} || st.Gid[FS] != 8 || len(st.Groups) != 0 {
		t.Errorf("%+v %v", st, err)
	}
	if _, err := parseStatus([]byte("Tgid:\tx\n"), 1); err == nil {
		t.Error("bad Tgid accepted")
	}
}

// Statuses reads this thread's identity, capabilities included, again and
// again through one kept descriptor, and says so for a task that is gone.
func TestStatusesOfThisThread(t *testing.T) {
	var s Statuses
	defer s.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := uint32(unix.Gettid())
	for i := 0; i < 3; i++ {
		st, err := s.Of(tid)
		if err != nil {
			t.Fatal(err)
		}
		if int(st.Tgid) != os.Getpid() || int(st.Uid[FS]) != os.Geteuid() || int(st.Gid[FS]) != os.Getegid() {
			t.Fatalf("status %+v", st)
		}
		if os.Geteuid() == 0 && st.CapEff == 0 {
			t.Error("root with no effective capabilities")
		}
	}
	if _, err := s.Of(1 << 30); err == nil {
		t.Error("a status for a task that does not exist")
	}
}
