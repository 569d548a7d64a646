//go:build linux

package tests

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/notifyfs/notifyfs/internal/daemon"
	"github.com/notifyfs/notifyfs/mountutil"
)

// sshfsSource is a directory served by a throwaway sshd on 127.0.0.1
// (server, where "another machine" makes its changes) and mounted with
// sshfs (local, the SOURCE notifyfs mounts).
type sshfsSource struct {
	server, local string
	// opts and remote are what sshfs was given, for mountAgain.
	opts, remote string
}

// newSSHFS starts sshd with a host key and a user key made for the test,
// mounts its directory with sshfs as docs/operations.md says to, and
// undoes both when the test ends.
func newSSHFS(t *testing.T) *sshfsSource {
	t.Helper()
	requireFuse(t)
	for _, tool := range []string{"/usr/sbin/sshd", "sshfs", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			cannotRun(t, tool+" not installed (scripts/test installs openssh-server and sshfs)")
		}
	}
	dir := t.TempDir()
	s := &sshfsSource{server: filepath.Join(dir, "server"), local: filepath.Join(dir, "local")}
	must(t, os.Mkdir(s.server, 0o755))
	must(t, os.Mkdir(s.local, 0o755))
	key := func(name string) string {
		p := filepath.Join(dir, name)
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", p).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
		return p
	}
	hostKey, userKey := key("hostkey"), key("userkey")
	pub, err := os.ReadFile(userKey + ".pub")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600))
	port := freePort(t)
	cfg := fmt.Sprintf(`ListenAddress 127.0.0.1
Port %d
HostKey %s
AuthorizedKeysFile %s
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
`, port, hostKey, filepath.Join(dir, "authorized_keys"))
	must(t, os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600))
	must(t, os.MkdirAll("/run/sshd", 0o755)) // its privilege separation directory

	sshd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	sshd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its sessions too are stopped with it
	stderr, _ := sshd.StderrPipe()
	if err := sshd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-sshd.Process.Pid, syscall.SIGKILL)
		sshd.Wait()
	})
	lines := bufio.NewScanner(stderr)
	for lines.Scan() && !strings.Contains(lines.Text(), "Server listening") {
	}
	go func() {
		for lines.Scan() {
		}
	}()

	u, err := user.Current()
	must(t, err)
	opts := strings.Join([]string{
		"IdentityFile=" + userKey, fmt.Sprintf("Port=%d", port), "StrictHostKeyChecking=no",
		"UserKnownHostsFile=/dev/null", "BatchMode=yes", "LogLevel=ERROR",
		// sshfs's own directory cache answers even a forced stat: it
		// must be off (docs/operations.md). Its kernel attribute cache
		// is left an hour long: notifyfs must see past it by itself.
		"dir_cache=no", "attr_timeout=3600",
		// A file removed while sshfs has it open is removed, not renamed
		// to .fuse_hidden*: notifyfs's handle on SOURCE is released
		// (FUSE RELEASE) after close(2) has returned through the mount,
		// and a remove made right after must not leave a hidden file
		// that other hosts would report (docs/operations.md).

	}, ",")
	s.opts, s.remote = opts, u.Username+"@127.0.0.1:"+s.server
	s.sshfs(t, s.local)
	return s
}

// mountAgain mounts the server's directory once more, at a new
// directory it returns: another machine's view of the same share.
func (s *sshfsSource) mountAgain(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "local")
	must(t, os.Mkdir(dir, 0o755))
	s.sshfs(t, dir)
	return dir
}

func (s *sshfsSource) sshfs(t *testing.T, at string) {
	t.Helper()
	if out, err := exec.Command("sshfs", "-o", s.opts, s.remote, at).CombinedOutput(); err != nil {
		t.Fatalf("sshfs: %v %s", err, out)
	}
	t.Cleanup(func() {
		if err := mountutil.Unmount(at, waitLimit, true); err != nil {
			t.Errorf("unmount sshfs: %v", err)
		}
	})
}

// freePort is a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// sourceAt mounts dir instead of the harness's own SOURCE.
func sourceAt(dir string) mountOption { return func(c *daemon.Config) { c.Source = dir } }
