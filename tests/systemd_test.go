//go:build linux

package tests

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/notifyfs/notifyfs/mountutil"
)

// TestSystemdNotify runs `notifyfs mount --foreground` as a Type=notify
// unit would, with NOTIFY_SOCKET naming a real datagram socket the test
// reads: READY=1 (with STATUS=) must come when the mount is ready, and
// STOPPING=1 when SIGTERM makes it unmount.
func TestSystemdNotify(t *testing.T) {
	requireFuse(t)
	dir := t.TempDir()
	src, mnt := filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	os.Mkdir(src, 0o755)
	os.Mkdir(mnt, 0o755)
	sockPath := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	read := func() string {
		t.Helper()
		buf := make([]byte, 4096)
		n, _, err := conn.ReadFromUnix(buf)
		if err != nil {
			t.Fatalf("reading NOTIFY_SOCKET: %v", err)
		}
		return string(buf[:n])
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "mount", "--foreground", "--journal", "none", src, mnt)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sockPath)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupMount(t, mnt) })

	ready := read()
	if !strings.Contains(ready, "READY=1\n") || !strings.Contains(ready, "STATUS=serving "+src+" at "+mnt) {
		t.Fatalf("first notification %q, want READY=1 and a STATUS", ready)
	}
	// Ready means ready: mounted, and the socket answers.
	if mi, ok, _ := mountutil.Lookup(mnt); !ok || mi.FSType != "fuse.notifyfs" {
		t.Fatalf("READY=1 before the mount: %+v %v", mi, ok)
	}
	os.WriteFile(filepath.Join(mnt, "f"), nil, 0o644)
	mustRun(t, "sync", mnt)

	cmd.Process.Signal(syscall.SIGTERM)
	if stop := read(); !strings.HasPrefix(stop, "STOPPING=1\nSTATUS=terminated: unmounting") {
		t.Fatalf("after SIGTERM: %q, want STOPPING=1 and a STATUS", stop)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("daemon after SIGTERM: %v", err)
	}
	if _, ok, _ := mountutil.Lookup(mnt); ok {
		t.Fatal("still mounted after SIGTERM")
	}
}

// TestSystemdUnitShipped checks the shipped unit template for what the
// daemon relies on: Type=notify and a foreground mount of %f.
func TestSystemdUnitShipped(t *testing.T) {
	b, err := os.ReadFile("../contrib/systemd/notifyfs@.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nType=notify\n", "\nExecStart=/usr/local/bin/notifyfs mount --foreground $OPTIONS ${SOURCE} %f\n", "\nEnvironmentFile=/etc/notifyfs/%i.conf\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("unit lacks %q", strings.TrimSpace(want))
		}
	}
	// Where systemd's own checker is installed, it must find nothing
	// wrong with an instance; it runs with the binary under test at the
	// unit's /usr/local/bin, in a private mount namespace.
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		return
	}
	inst := filepath.Join(t.TempDir(), "notifyfs@srv-build.service")
	os.WriteFile(inst, b, 0o644)
	out, err := exec.Command("unshare", "-m", "sh", "-c", `mount --bind "$1" /usr/local/bin && systemd-analyze verify --man=no "$2"`,
		"sh", filepath.Dir(binary), inst).CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
