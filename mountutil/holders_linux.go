package mountutil

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A FUSE filesystem lives as long as any mount of it, in any mount
// namespace. A container started while it was mounted holds a copy
// (or a bind mount) of it in its own namespace: unmounting it here then
// succeeds, but the filesystem — and its daemon, and the daemon's lock
// on the journal — stays alive, unseen, until the container goes.
// HeldElsewhere finds those copies so that umount can say so instead
// of returning as if it had stopped anything.

// HeldElsewhere lists the mounts of the filesystem dev ("major:minor",
// MountInfo.Dev) in mount namespaces other than this process's, as
// "mount namespace N (pid P): /path" — one process per namespace.
// Processes it may not inspect (another user's, without privilege) are
// skipped: the answer can only be incomplete, never wrong.
func HeldElsewhere(dev string) ([]string, error) {
	self, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return nil, err
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{self: true}
	var out []string
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		ns, err := os.Readlink(filepath.Join("/proc", p.Name(), "ns/mnt"))
		if err != nil || seen[ns] {
			continue
		}
		seen[ns] = true
		for _, point := range mountsOf(filepath.Join("/proc", p.Name(), "mountinfo"), dev) {
			out = append(out, fmt.Sprintf("mount namespace %s (pid %d): %s", strings.Trim(strings.TrimPrefix(ns, "mnt:"), "[]"), pid, point))
		}
	}
	return out, nil
}

// mountsOf lists the mount points of dev in a mountinfo file.
func mountsOf(mountinfo, dev string) []string {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && fields[2] == dev {
			out = append(out, unescapeMount(fields[4]))
		}
	}
	return out
}

// fusectl is where the kernel's FUSE control filesystem is mounted.
const fusectl = "/sys/fs/fuse/connections"

// Abort ends the FUSE connection of the filesystem dev (MountInfo.Dev)
// through the control filesystem (mounting it if needed): its daemon's
// reads of /dev/fuse fail, so the daemon shuts down and releases its
// journal, and every remaining mount of it answers ENOTCONN until
// unmounted. It is the only way to stop a FUSE filesystem that another
// mount namespace still holds.
func Abort(dev string) error {
	_, minor, ok := strings.Cut(dev, ":")
	if !ok {
		return fmt.Errorf("abort: bad device %q", dev)
	}
	ctl := filepath.Join(fusectl, minor, "abort")
	if _, err := os.Stat(ctl); errors.Is(err, os.ErrNotExist) {
		if err := unix.Mount("fusectl", fusectl, "fusectl", 0, ""); err != nil && err != unix.EBUSY {
			return fmt.Errorf("abort: mount the FUSE control filesystem at %s: %w", fusectl, err)
		}
	}
	if err := os.WriteFile(ctl, []byte("1"), 0); err != nil {
		return fmt.Errorf("abort FUSE connection %s: %w", minor, err)
	}
	return nil
}
