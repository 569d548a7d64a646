//go:build linux

package tests

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMountHelperAndFstab mounts with the real mount(8) and Debian's
// fuse3 helper (mount.fuse3), by `mount -t fuse.notifyfs ... -o` and by
// an fstab line (mount -T FILE), with standard options that must be
// handled (ro) or ignored (noauto, _netdev, x-systemd.*).
//
// mount(8) runs helpers with the standard PATH, where the binary under
// test is not; the test runs in a private mount namespace (unshare -m)
// with the binary's directory bound over /usr/local/bin, so the machine's
// own is never touched, and everything it mounts is unmounted in there.
func TestMountHelperAndFstab(t *testing.T) {
	requireFuse(t)
	for _, p := range []string{"unshare", "mount", "mount.fuse3"} {
		progNeed(t, p)
	}
	dir := t.TempDir()
	src, mnt, jdir := filepath.Join(dir, "src"), filepath.Join(dir, "mnt"), filepath.Join(dir, "journal")
	os.Mkdir(src, 0o755)
	os.Mkdir(mnt, 0o755)
	os.WriteFile(filepath.Join(src, "old"), []byte("old\n"), 0o644)
	fstab := filepath.Join(dir, "fstab")
	os.WriteFile(fstab, []byte("# notifyfs by fstab\n"+src+" "+mnt+
		" fuse.notifyfs defaults,noauto,nofail,_netdev,x-systemd.automount,x-systemd.idle-timeout=60,journal="+jdir+",underneath=off 0 0\n"), 0o644)

	script := `set -eu
mount --bind "$BINDIR" /usr/local/bin
mount -t fuse.notifyfs "$SRC" "$MNT" -o ro,noauto,_netdev,x-systemd.automount,x-systemd.requires=network-online.target,journal="$J",underneath=off,write_interval=1s
grep " $MNT fuse.notifyfs " /proc/self/mounts | cut -d' ' -f4 | tr ',' '\n' | grep -qx ro && echo "ro mounted"
cat "$MNT/old"
if echo x 2>/dev/null > "$MNT/new"; then echo "write allowed"; else echo "write refused"; fi
notifyfs umount "$MNT"
mount -T "$FSTAB" "$MNT"
echo fstab > "$MNT/new"
cat "$SRC/new"
notifyfs watch --since 0 --type close_write -n 1 --format '%p %e' "$MNT"
notifyfs umount "$MNT"
grep -c " $MNT " /proc/self/mounts || echo "all unmounted"
`
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-m", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BINDIR="+filepath.Dir(binary), "SRC="+src, "MNT="+mnt, "J="+jdir, "FSTAB="+fstab)
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() { cleanupMount(t, mnt) })
	// The first mount of a journal has no index of SOURCE to compare
	// with: it publishes a rescan of the root, which --since 0 replays.
	want := "ro mounted\nold\nwrite refused\nfstab\n rescan\nnew close_write\n0\nall unmounted\n"
	if err != nil || string(out) != want {
		t.Fatalf("in a mount namespace: %v\n%s\nwant:\n%s", err, out, want)
	}
	if strings.Contains(string(out), "write allowed") {
		t.Fatal("-o ro did not make the mount read-only")
	}
}
