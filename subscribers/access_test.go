package subscribers

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

func TestPolicy(t *testing.T) {
	const me = 1000
	groups := func(gs ...uint32) func(peer) ([]uint32, error) {
		return func(peer) ([]uint32, error) { return gs, nil }
	}
	noGroups := func(peer) ([]uint32, error) { return nil, errors.New("no /proc") }
	owner := policy{euid: me, gid: 50}
	group := policy{euid: me, gid: 50, group: true}
	other := policy{euid: me, gid: 50, other: true}
	for _, tc := range []struct {
		name   string
		pol    policy
		peer   peer
		groups func(peer) ([]uint32, error)
		ok     bool
	}{
		{"owner", owner, peer{known: true, uid: me, gid: 7}, noGroups, true},
		{"root", owner, peer{known: true, uid: 0, gid: 7}, noGroups, true},
		{"stranger", owner, peer{known: true, uid: 2000, gid: 50}, groups(50), false},
		{"group by gid", group, peer{known: true, uid: 2000, gid: 50}, noGroups, true},
		{"group by supplementary", group, peer{known: true, uid: 2000, gid: 7}, groups(3, 50), true},
		{"not in group", group, peer{known: true, uid: 2000, gid: 7}, groups(3), false},
		{"groups unreadable", group, peer{known: true, uid: 2000, gid: 7}, noGroups, false},
		{"other", other, peer{known: true, uid: 2000, gid: 7}, noGroups, true},
		{"unknown credentials", owner, peer{}, noGroups, true},
	} {
		err := tc.pol.check(tc.peer, tc.groups)
		if (err == nil) != tc.ok {
			t.Errorf("%s: check = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "permission denied: ") {
			t.Errorf("%s: message %q", tc.name, err)
		}
	}
	if p := newPolicy(0o640, 5); p.group || p.other {
		t.Errorf("0640 grants connect to the group: %+v", p) // connect needs write
	}
	if p := newPolicy(0o662, 5); !p.group || !p.other {
		t.Errorf("0662: %+v", p)
	}
}

// helperEnv makes the test binary act as a client that prints the hello
// it receives: TestPeerCredentials runs it under other credentials.
const helperEnv = "NOTIFYFS_TEST_HELPER_SOCKET"

func TestMain(m *testing.M) {
	if path := os.Getenv(helperEnv); path != "" {
		nc, err := net.Dial("unix", path)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(1)
		}
		b := make([]byte, 4096)
		n, err := nc.Read(b)
		if err != nil && err != io.EOF {
			fmt.Println("read:", err)
			os.Exit(1)
		}
		os.Stdout.Write(b[:n])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestPeerCredentials runs clients under other uids and gids against
// sockets whose file permissions let them connect, so that the answer
// comes from the peer-credential check alone.
func TestPeerCredentials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run clients under other uids")
	}
	// Somewhere nobody can reach: t.TempDir's parents are 0700.
	dir, err := os.MkdirTemp("", "notifyfs-peer")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := filepath.Join(dir, "helper")
	if b, err := os.ReadFile(exe); err != nil || os.WriteFile(helper, b, 0o755) != nil {
		t.Fatalf("copying the test binary: %v", err)
	}

	run := func(t *testing.T, socket string, cred *syscall.Credential) string {
		cmd := exec.Command(helper)
		// The race runtime otherwise sleeps a second before exiting.
		cmd.Env = append(os.Environ(), helperEnv+"="+socket, "GORACE=atexit_sleep_ms=0")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helper: %v: %s", err, out)
		}
		return string(out)
	}
	for i, tc := range []struct {
		name  string
		opts  Options
		cred  syscall.Credential
		allow bool
	}{
		{"stranger, mode 0600", Options{Mode: 0o600}, syscall.Credential{Uid: 65534, Gid: 65534}, false},
		{"primary group", Options{Mode: 0o660, Group: "65534"}, syscall.Credential{Uid: 65534, Gid: 65534}, true},
		{"supplementary group", Options{Mode: 0o660, Group: "4242"}, syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{4242}}, true},
		{"other group", Options{Mode: 0o660, Group: "4242"}, syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{4243}}, false},
		{"mode 0666", Options{Mode: 0o666}, syscall.Credential{Uid: 65534, Gid: 65534}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.SocketPath = filepath.Join(dir, fmt.Sprintf("s%d", i))
			bus := eventbus.New(eventbus.Options{})
			srv, err := Listen(bus, Info{}, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve()
			defer srv.Close()
			// Let the kernel admit the connection whatever the mode.
			os.Chmod(tc.opts.SocketPath, 0o666)
			out := run(t, tc.opts.SocketPath, &tc.cred)
			m, err := decode([]byte(out))
			if err != nil {
				t.Fatalf("helper output %q", out)
			}
			if (m["ok"] == true) != tc.allow {
				t.Fatalf("hello = %v, want allowed=%v", m, tc.allow)
			}
			if !tc.allow && (m["code"] != wire.CodePermissionDenied || !strings.Contains(m["error"].(string), "uid 65534")) {
				t.Fatalf("refusal = %v", m)
			}
		})
	}
}
