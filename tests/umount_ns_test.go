//go:build linux

package tests

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/mountutil"
)

// holdInNamespace starts a process in a new mount namespace (as a
// container runtime does), which holds its own copy of every mount,
// mnt's included; it ends, and the copy with it, when the test does.
func holdInNamespace(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		cannotRun(t, "unshare not installed")
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-c", "echo ready; exec cat")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		cannotRun(t, "unshare: "+err.Error())
	}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("unshare: %q %v", line, err)
	}
}

// keepFusectlAsFound unmounts the FUSE control filesystem when the test
// ends if it was not mounted when it began: aborting a connection mounts
// it when nothing had (as systemd does at boot on most machines), and a
// test leaves the machine's mounts as it found them.
func keepFusectlAsFound(t *testing.T) {
	const ctl = "/sys/fs/fuse/connections"
	if _, was, _ := mountutil.Lookup(ctl); was {
		return
	}
	t.Cleanup(func() {
		if _, is, _ := mountutil.Lookup(ctl); is {
			if err := unix.Unmount(ctl, 0); err != nil {
				t.Errorf("unmount %s: %v", ctl, err)
			}
		}
	})
}

// A mount that another mount namespace still holds: umount says so and
// fails, leaving everything as it was; umount --lazy detaches it and
// stops the daemon, whose journal a new mount can then take.
func TestBinaryUmountHeldElsewhere(t *testing.T) {
	keepFusectlAsFound(t)
	src, mnt := binMount(t)
	journal := filepath.Join(filepath.Dir(src), "journal")
	pid := daemonPid(t, mnt)
	holdInNamespace(t)

	r := run(t, "umount", "--wait", "1s", mnt)
	if r.code == 0 || !strings.Contains(r.stderr, "another mount namespace") {
		t.Fatalf("umount of a mount held elsewhere: exit %d, %q", r.code, r.stderr)
	}
	must(t, os.WriteFile(filepath.Join(mnt, "still"), nil, 0o644)) // still mounted and served here

	r = run(t, "umount", "--lazy", mnt)
	if r.code != 0 {
		t.Fatalf("umount --lazy: exit %d, %s", r.code, r.stderr)
	}
	waitGone(t, pid)
	mustRun(t, "mount", "--journal", journal, src, mnt)
	if _, err := os.Stat(filepath.Join(mnt, "still")); err != nil {
		t.Error(err)
	}
}
