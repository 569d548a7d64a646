//go:build linux

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/daemon"
)

// A differential POSIX permission-semantics suite in the manner of
// pjdfstest (which cannot be installed here). Every case is a fixture
// made by root with explicit owners and modes, and a few system calls
// made by a real unprivileged user. Each case runs twice on identical
// fixtures, both kept in SOURCE: once directly (SOURCE/native/CASE) and
// once through the mount (MOUNT/fuse/CASE, i.e. SOURCE/fuse/CASE). The
// native run is the oracle: whatever the filesystem underneath answers,
// the mount must answer too — the same errno for every call, and the
// same resulting state (existence, type, mode, owner, size, links,
// symlink target, user xattrs, and whether times moved). No expected
// errno is written down here on purpose: the native kernel is the
// reference, so the table cannot encode a wrong belief about POSIX.

// confT0 is the time every fixture entry starts with and confTx the
// explicit time a utimensat case sets, so that "times moved or not" can
// be compared between two runs made at different moments.
var (
	confT0 = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	confTx = time.Date(2011, 12, 13, 14, 15, 16, 0, time.UTC)
)

// cfx is one fixture entry, made by root. owner is "A", "B", "root"
// (each with its own group) or "user:group" such as "A:gB".
type cfx struct {
	path  string
	kind  byte // 'f' file, 'd' directory, 'l' symlink, 'p' fifo, 'c' char device
	mode  uint32
	owner string
	data  string // file content or symlink target
	xattr string // a user.* attribute to set on it, if any
}

func fxD(p string, mode uint32, owner string) cfx {
	return cfx{path: p, kind: 'd', mode: mode, owner: owner}
}

func fxF(p string, mode uint32, owner string) cfx {
	return cfx{path: p, kind: 'f', mode: mode, owner: owner, data: "data"}
}

func fxL(p, target, owner string) cfx { return cfx{path: p, kind: 'l', owner: owner, data: target} }

func fxP(p string, mode uint32, owner string) cfx {
	return cfx{path: p, kind: 'p', mode: mode, owner: owner}
}

// fxC is a character device: 1:3, the null device, harmless if opened.
func fxC(p string, mode uint32, owner string) cfx {
	return cfx{path: p, kind: 'c', mode: mode, owner: owner}
}

func (f cfx) withXattr(name string) cfx { f.xattr = name; return f }

// confCase is one row of the table.
type confCase struct {
	name string
	fix  []cfx
	// prime: paths root stats through the same side before the user
	// acts, so the mount's kernel caches already hold them (a dentry
	// looked up by someone else is not looked up again).
	prime []string
	// who acts: "A" or "B", optionally with supplementary groups
	// ("A+gB"); the worker has no other groups.
	who   string
	umask int
	steps []trustOp
	// kernelOnly: only the kernel's own check (default_permissions)
	// covers this case, so it is not compared on a mount without it;
	// the text says why.
	kernelOnly string
}

// Step constructors: paths are relative to the case directory.
func sOpen(p string, flags int, mode uint32) trustOp {
	return trustOp{Op: "open", Path: p, Mode: mode, Data: strconv.Itoa(flags)}
}
func sCreate(p string, mode uint32) trustOp { return trustOp{Op: "create", Path: p, Mode: mode} }
func sMkdir(p string, mode uint32) trustOp  { return trustOp{Op: "mkdir", Path: p, Mode: mode} }
func sChmod(p string, mode uint32) trustOp  { return trustOp{Op: "chmod", Path: p, Mode: mode} }
func sChown(p, to string) trustOp           { return trustOp{Op: "chown", Path: p, Data: to} }
func sLchown(p, to string) trustOp          { return trustOp{Op: "lchown", Path: p, Data: to} }
func sUnlink(p string) trustOp              { return trustOp{Op: "unlink", Path: p} }
func sRmdir(p string) trustOp               { return trustOp{Op: "rmdir", Path: p} }
func sRename(from, to string) trustOp       { return trustOp{Op: "rename", Path: from, Data: to} }
func sLink(from, to string) trustOp         { return trustOp{Op: "link", Path: from, Data: to} }
func sSymlink(target, p string) trustOp     { return trustOp{Op: "symlink", Path: p, Data: target} }
func sTruncate(p string, n uint32) trustOp  { return trustOp{Op: "truncate", Path: p, Mode: n} }
func sFtruncate(p string, flags int, n uint32) trustOp {
	return trustOp{Op: "ftruncate", Path: p, Data: strconv.Itoa(flags), Mode: n}
}
func sUtimens(p, how string) trustOp        { return trustOp{Op: "utimens", Path: p, Data: how} }
func sAccess(p string, mode uint32) trustOp { return trustOp{Op: "access", Path: p, Mode: mode} }
func sStat(p string) trustOp                { return trustOp{Op: "stat", Path: p} }
func sRead(p string) trustOp                { return trustOp{Op: "read", Path: p} }
func sReaddir(p string) trustOp             { return trustOp{Op: "readdir", Path: p} }
func sChdir(p string) trustOp               { return trustOp{Op: "chdir", Path: p} }
func sMknod(p string, mode uint32) trustOp  { return trustOp{Op: "mknod", Path: p, Mode: mode} }
func sSetx(p, name string) trustOp          { return trustOp{Op: "setxattr", Path: p, Data: name} }
func sGetx(p, name string) trustOp          { return trustOp{Op: "getxattr", Path: p, Data: name} }
func sRmx(p, name string) trustOp           { return trustOp{Op: "removexattr", Path: p, Data: name} }
func sWriteAt(p, data string) trustOp       { return trustOp{Op: "writeat", Path: p, Data: data} }

const (
	oR = unix.O_RDONLY
	oW = unix.O_WRONLY
	oC = unix.O_CREAT
)

// kernelOpens is why fifo opens are only the kernel's to check.
const kernelOpens = "a fifo (or device node) is opened by the kernel itself, never by " +
	"the daemon; without default_permissions fuse_permission checks nothing but " +
	"access(2) and chdir(2), so its mode is not enforced between users of the mount " +
	"(documented in docs/architecture.md, Trust model)"

// confCases is the table. Names follow pjdfstest's directories where a
// case has a counterpart there.
var confCases = []confCase{
	// open(2)/creat: modes, umask, set-id bits of new files.
	{name: "open/create-umask022", fix: []cfx{fxD("d", 0o755, "A")}, who: "A", umask: 0o022,
		steps: []trustOp{sCreate("d/f", 0o666), sOpen("d/g", oC|oW, 0o777)}},
	{name: "open/create-umask000", fix: []cfx{fxD("d", 0o755, "A")}, who: "A", umask: 0,
		steps: []trustOp{sCreate("d/f", 0o777), sOpen("d/g", oC|oW, 0o606)}},
	{name: "open/create-umask077", fix: []cfx{fxD("d", 0o755, "A")}, who: "A", umask: 0o077,
		steps: []trustOp{sCreate("d/f", 0o666)}},
	{name: "open/create-setid-bits", fix: []cfx{fxD("d", 0o755, "A")}, who: "A", umask: 0,
		steps: []trustOp{sCreate("d/u", 0o4755), sCreate("d/g", 0o2755), sCreate("d/t", 0o1755)}},
	{name: "open/create-in-setgid-dir-nonmember", fix: []cfx{fxD("d", 0o2777, "root:gB")}, who: "A", umask: 0,
		steps: []trustOp{sCreate("d/f", 0o2755), sCreate("d/g", 0o644)}},
	{name: "open/create-in-setgid-dir-member", fix: []cfx{fxD("d", 0o2777, "root:gB")}, who: "A+gB", umask: 0,
		steps: []trustOp{sCreate("d/f", 0o2755)}},
	{name: "open/create-no-write-on-dir", fix: []cfx{fxD("d", 0o755, "root")}, who: "A",
		steps: []trustOp{sCreate("d/f", 0o644)}},
	{name: "open/create-no-search-on-dir", fix: []cfx{fxD("d", 0o666, "A")}, who: "A",
		steps: []trustOp{sCreate("d/f", 0o644)}},
	{name: "open/excl-existing", fix: []cfx{fxD("d", 0o777, "A"), fxF("d/f", 0o644, "A")}, who: "A",
		steps: []trustOp{sOpen("d/f", oC|unix.O_EXCL|oW, 0o644), sOpen("d/f", oC|unix.O_EXCL|oR, 0o644)}},
	{name: "open/creat-existing-not-writable", fix: []cfx{fxD("d", 0o777, "A"), fxF("d/f", 0o644, "root")}, who: "A",
		steps: []trustOp{sOpen("d/f", oC|oW, 0o666), sOpen("d/f", oC|oR, 0o666)}},
	{name: "open/trunc-owner-readonly-file", fix: []cfx{fxF("f", 0o444, "A")}, who: "A",
		steps: []trustOp{sOpen("f", oR|unix.O_TRUNC, 0), sOpen("f", oW|unix.O_TRUNC, 0)}},
	{name: "open/trunc-by-writer", fix: []cfx{fxF("f", 0o666, "B")}, who: "A",
		steps: []trustOp{sOpen("f", oW|unix.O_TRUNC, 0)}},
	{name: "open/trunc-by-reader", fix: []cfx{fxF("f", 0o644, "B")}, who: "A",
		steps: []trustOp{sOpen("f", oR|unix.O_TRUNC, 0)}},
	{name: "open/read-denied-other", fix: []cfx{fxF("f", 0o600, "B")}, who: "A",
		steps: []trustOp{sOpen("f", oR, 0), sOpen("f", oW, 0), sOpen("f", unix.O_RDWR, 0)}},
	{name: "open/group-class", fix: []cfx{fxF("f", 0o640, "B:gA")}, who: "A",
		steps: []trustOp{sOpen("f", oR, 0), sOpen("f", oW, 0)}},
	{name: "open/owner-class-precedes", fix: []cfx{fxF("f", 0o077, "A")}, who: "A",
		steps: []trustOp{sOpen("f", oR, 0), sOpen("f", oW, 0)}},
	{name: "open/group-class-precedes", fix: []cfx{fxF("f", 0o606, "B:gA")}, who: "A",
		steps: []trustOp{sOpen("f", oR, 0), sOpen("f", oW, 0)}},
	{name: "open/supplementary-group", fix: []cfx{fxF("f", 0o640, "root:gB")}, who: "A+gB",
		steps: []trustOp{sOpen("f", oR, 0), sOpen("f", oW, 0)}},
	{name: "open/dir-for-writing", fix: []cfx{fxD("d", 0o777, "A")}, who: "A",
		steps: []trustOp{sOpen("d", oW, 0), sOpen("d", unix.O_RDWR, 0), sOpen("d", oR|unix.O_DIRECTORY, 0)}},
	{name: "open/odirectory-on-file", fix: []cfx{fxF("f", 0o644, "A")}, who: "A",
		steps: []trustOp{sOpen("f", oR|unix.O_DIRECTORY, 0)}},
	{name: "open/nofollow-symlink", fix: []cfx{fxF("f", 0o644, "A"), fxL("l", "f", "A")}, who: "A",
		steps: []trustOp{sOpen("l", oR|unix.O_NOFOLLOW, 0), sOpen("l", oR, 0)}},
	{name: "open/creat-through-dangling-symlink", fix: []cfx{fxD("d", 0o777, "A"), fxL("d/l", "t", "A")}, who: "A", umask: 0o022,
		steps: []trustOp{sOpen("d/l", oC|oW, 0o666)}},
	{name: "open/fifo-readable-not-writable", fix: []cfx{fxP("p", 0o644, "B")}, who: "A",
		steps: []trustOp{sOpen("p", oR|unix.O_NONBLOCK, 0), sOpen("p", oW|unix.O_NONBLOCK, 0)}, kernelOnly: kernelOpens},
	{name: "open/fifo-not-readable", fix: []cfx{fxP("p", 0o600, "B")}, who: "A",
		steps: []trustOp{sOpen("p", oR|unix.O_NONBLOCK, 0)}, kernelOnly: kernelOpens},
	{name: "open/fifo-own", fix: []cfx{fxP("p", 0o600, "A")}, who: "A",
		steps: []trustOp{sOpen("p", oR|unix.O_NONBLOCK, 0)}},
	// At parity only because go-fuse mounts nodev (EACCES either way);
	// the mode is not what refuses it through the mount.
	{name: "open/char-device-not-readable", fix: []cfx{fxC("c", 0o600, "root")}, who: "A",
		steps: []trustOp{sOpen("c", oR, 0), sOpen("c", oW, 0)}},

	// chmod(2), set-id clearing.
	{name: "chmod/owner", fix: []cfx{fxF("f", 0o644, "A")}, who: "A",
		steps: []trustOp{sChmod("f", 0o600)}},
	{name: "chmod/non-owner", fix: []cfx{fxF("f", 0o666, "B"), fxD("d", 0o777, "B")}, who: "A",
		steps: []trustOp{sChmod("f", 0o644), sChmod("d", 0o755)}},
	{name: "chmod/setuid-owner", fix: []cfx{fxF("f", 0o755, "A")}, who: "A",
		steps: []trustOp{sChmod("f", 0o4755)}},
	{name: "chmod/setgid-group-not-member", fix: []cfx{fxF("f", 0o755, "A:gB")}, who: "A",
		steps: []trustOp{sChmod("f", 0o2755)}},
	{name: "chmod/setgid-supplementary-member", fix: []cfx{fxF("f", 0o755, "A:gB")}, who: "A+gB",
		steps: []trustOp{sChmod("f", 0o2755)}},
	{name: "chmod/setgid-dir-group-not-member", fix: []cfx{fxD("d", 0o755, "A:gB")}, who: "A",
		steps: []trustOp{sChmod("d", 0o2775)}},
	{name: "chmod/sticky-on-file", fix: []cfx{fxF("f", 0o644, "A")}, who: "A",
		steps: []trustOp{sChmod("f", 0o1644)}},
	{name: "chmod/through-symlink-to-others", fix: []cfx{fxF("f", 0o644, "B"), fxL("l", "f", "A")}, who: "A",
		steps: []trustOp{sChmod("l", 0o600)}},
	{name: "chmod/no-search-on-parent", fix: []cfx{fxD("d", 0o600, "A"), fxF("d/f", 0o644, "A")}, who: "A",
		steps: []trustOp{sChmod("d/f", 0o600)}},

	// chown(2)/lchown(2).
	{name: "chown/non-owner-to-self", fix: []cfx{fxF("f", 0o644, "B")}, who: "A",
		steps: []trustOp{sChown("f", "A:-1")}},
	{name: "chown/owner-to-other", fix: []cfx{fxF("f", 0o644, "A")}, who: "A",
		steps: []trustOp{sChown("f", "B:-1")}},
	{name: "chown/owner-to-same-uid", fix: []cfx{fxF("f", 0o644, "A")}, who: "A",
		steps: []trustOp{sChown("f", "A:-1"), sChown("f", "A:gA")}},
	{name: "chown/none-by-non-owner", fix: []cfx{fxF("f", 0o600, "B")}, who: "A",
		steps: []trustOp{sChown("f", "-1:-1")}},
	{name: "chgrp/owner-to-member-group", fix: []cfx{fxF("f", 0o644, "A")}, who: "A+gB",
		steps: []trustOp{sChown("f", "-1:gB")}},
	{name: "chgrp/owner-to-non-member-group", fix: []cfx{fxF("f", 0o644, "A")}, who: "A",
		steps: []trustOp{sChown("f", "-1:gB"), sChown("f", "-1:root")}},
	{name: "chgrp/non-owner-member", fix: []cfx{fxF("f", 0o666, "B")}, who: "A+gB",
		steps: []trustOp{sChown("f", "-1:gB"), sChown("f", "-1:gA")}},
	{name: "chgrp/clears-setid", fix: []cfx{fxF("f", 0o6755, "A"), fxD("d", 0o2755, "A")}, who: "A+gB",
		steps: []trustOp{sChown("f", "-1:gB"), sChown("d", "-1:gB")}},
	{name: "chgrp/clears-setuid-keeps-sgid-without-group-x", fix: []cfx{fxF("f", 0o6744, "A")}, who: "A+gB",
		steps: []trustOp{sChown("f", "-1:gB")}},
	{name: "lchown/symlink-own", fix: []cfx{fxF("f", 0o644, "B"), fxL("l", "f", "A")}, who: "A+gB",
		steps: []trustOp{sLchown("l", "-1:gB"), sChown("l", "-1:gB")}},

	// mkdir(2)/rmdir(2).
	{name: "mkdir/umask022", fix: []cfx{fxD("d", 0o755, "A")}, who: "A", umask: 0o022,
		steps: []trustOp{sMkdir("d/s", 0o777)}},
	{name: "mkdir/sticky-and-setgid-mode", fix: []cfx{fxD("d", 0o755, "A")}, who: "A", umask: 0,
		steps: []trustOp{sMkdir("d/s", 0o1777), sMkdir("d/g", 0o2755)}},
	{name: "mkdir/in-setgid-dir", fix: []cfx{fxD("d", 0o2777, "root:gB")}, who: "A", umask: 0o022,
		steps: []trustOp{sMkdir("d/s", 0o755)}},
	{name: "mkdir/no-write", fix: []cfx{fxD("d", 0o555, "A")}, who: "A",
		steps: []trustOp{sMkdir("d/s", 0o755)}},
	{name: "mkdir/exists", fix: []cfx{fxD("d", 0o777, "A"), fxF("d/f", 0o644, "B")}, who: "A",
		steps: []trustOp{sMkdir("d/f", 0o755)}},
	{name: "rmdir/not-empty", fix: []cfx{fxD("d", 0o777, "A"), fxD("d/s", 0o777, "A"), fxF("d/s/f", 0o644, "A")}, who: "A",
		steps: []trustOp{sRmdir("d/s")}},
	{name: "rmdir/no-write-on-parent", fix: []cfx{fxD("d", 0o755, "root"), fxD("d/s", 0o777, "A")}, who: "A",
		steps: []trustOp{sRmdir("d/s")}},
	{name: "rmdir/sticky-other", fix: []cfx{fxD("d", 0o1777, "root"), fxD("d/s", 0o777, "B")}, who: "A",
		steps: []trustOp{sRmdir("d/s")}},
	{name: "rmdir/sticky-dir-owner", fix: []cfx{fxD("d", 0o1777, "A"), fxD("d/s", 0o755, "B")}, who: "A",
		steps: []trustOp{sRmdir("d/s")}},

	// unlink(2) and sticky directories.
	{name: "unlink/sticky-other", fix: []cfx{fxD("d", 0o1777, "root"), fxF("d/f", 0o666, "B")}, who: "A",
		steps: []trustOp{sUnlink("d/f")}},
	{name: "unlink/sticky-own", fix: []cfx{fxD("d", 0o1777, "root"), fxF("d/f", 0o600, "A")}, who: "A",
		steps: []trustOp{sUnlink("d/f")}},
	{name: "unlink/sticky-dir-owner", fix: []cfx{fxD("d", 0o1777, "A"), fxF("d/f", 0o600, "B")}, who: "A",
		steps: []trustOp{sUnlink("d/f")}},
	{name: "unlink/not-sticky-other", fix: []cfx{fxD("d", 0o777, "root"), fxF("d/f", 0o600, "B")}, who: "A",
		steps: []trustOp{sUnlink("d/f")}},
	{name: "unlink/no-write", fix: []cfx{fxD("d", 0o755, "root"), fxF("d/f", 0o666, "A")}, who: "A",
		steps: []trustOp{sUnlink("d/f")}},
	{name: "unlink/no-search", fix: []cfx{fxD("d", 0o666, "A"), fxF("d/f", 0o666, "A")}, who: "A",
		steps: []trustOp{sUnlink("d/f")}},
	{name: "unlink/dir", fix: []cfx{fxD("d", 0o777, "A"), fxD("d/s", 0o777, "A")}, who: "A",
		steps: []trustOp{sUnlink("d/s")}},

	// rename(2).
	{name: "rename/sticky-source-other", fix: []cfx{fxD("d", 0o1777, "root"), fxF("d/f", 0o666, "B")}, who: "A",
		steps: []trustOp{sRename("d/f", "d/g")}},
	{name: "rename/sticky-target-other", fix: []cfx{fxD("d", 0o1777, "root"), fxF("d/f", 0o644, "A"), fxF("d/g", 0o666, "B")}, who: "A",
		steps: []trustOp{sRename("d/f", "d/g")}},
	{name: "rename/sticky-own", fix: []cfx{fxD("d", 0o1777, "root"), fxF("d/f", 0o644, "A")}, who: "A",
		steps: []trustOp{sRename("d/f", "d/g")}},
	{name: "rename/sticky-dir-across-parents", fix: []cfx{fxD("d1", 0o1777, "root"), fxD("d2", 0o777, "A"), fxD("d1/s", 0o777, "B")}, who: "A",
		steps: []trustOp{sRename("d1/s", "d2/s")}},
	{name: "rename/dir-across-parents-not-writable", fix: []cfx{fxD("d1", 0o777, "A"), fxD("d2", 0o777, "A"), fxD("d1/s", 0o755, "B")}, who: "A",
		steps: []trustOp{sRename("d1/s", "d2/s")}},
	{name: "rename/dir-across-parents-writable", fix: []cfx{fxD("d1", 0o777, "A"), fxD("d2", 0o777, "A"), fxD("d1/s", 0o777, "B")}, who: "A",
		steps: []trustOp{sRename("d1/s", "d2/s")}},
	{name: "rename/dir-same-parent-not-writable", fix: []cfx{fxD("d", 0o777, "A"), fxD("d/s", 0o755, "B")}, who: "A",
		steps: []trustOp{sRename("d/s", "d/t")}},
	{name: "rename/file-across-parents-not-writable", fix: []cfx{fxD("d1", 0o777, "A"), fxD("d2", 0o777, "A"), fxF("d1/f", 0o444, "B")}, who: "A",
		steps: []trustOp{sRename("d1/f", "d2/f")}},
	{name: "rename/target-dir-not-writable", fix: []cfx{fxD("d1", 0o777, "A"), fxD("d2", 0o755, "root"), fxF("d1/f", 0o644, "A")}, who: "A",
		steps: []trustOp{sRename("d1/f", "d2/f")}},
	{name: "rename/file-over-dir", fix: []cfx{fxD("d", 0o777, "A"), fxF("d/f", 0o644, "A"), fxD("d/s", 0o755, "A")}, who: "A",
		steps: []trustOp{sRename("d/f", "d/s"), sRename("d/s", "d/f")}},
	{name: "rename/dir-over-nonempty-dir", fix: []cfx{fxD("d", 0o777, "A"), fxD("d/s", 0o755, "A"), fxD("d/t", 0o755, "A"), fxF("d/t/f", 0o644, "A")}, who: "A",
		steps: []trustOp{sRename("d/s", "d/t")}},
	{name: "rename/dir-into-itself", fix: []cfx{fxD("d", 0o777, "A"), fxD("d/s", 0o755, "A")}, who: "A",
		steps: []trustOp{sRename("d/s", "d/s/x")}},

	// link(2) and fs.protected_hardlinks.
	{name: "link/protected-not-readable", fix: []cfx{fxD("d", 0o777, "A"), fxF("f", 0o600, "B")}, who: "A",
		steps: []trustOp{sLink("f", "d/l")}},
	{name: "link/protected-readable-not-writable", fix: []cfx{fxD("d", 0o777, "A"), fxF("f", 0o644, "B")}, who: "A",
		steps: []trustOp{sLink("f", "d/l")}},
	{name: "link/read-write-other", fix: []cfx{fxD("d", 0o777, "A"), fxF("f", 0o666, "B")}, who: "A",
		steps: []trustOp{sLink("f", "d/l")}},
	{name: "link/setuid-other", fix: []cfx{fxD("d", 0o777, "A"), fxF("f", 0o4777, "B")}, who: "A",
		steps: []trustOp{sLink("f", "d/l")}},
	{name: "link/own", fix: []cfx{fxD("d", 0o777, "A"), fxF("f", 0o400, "A")}, who: "A",
		steps: []trustOp{sLink("f", "d/l")}},
	{name: "link/target-dir-not-writable", fix: []cfx{fxD("d", 0o755, "root"), fxF("f", 0o644, "A")}, who: "A",
		steps: []trustOp{sLink("f", "d/l")}},
	{name: "link/dir", fix: []cfx{fxD("d", 0o777, "A"), fxD("s", 0o777, "A")}, who: "A",
		steps: []trustOp{sLink("s", "d/l")}},

	// symlink(2).
	{name: "symlink/own-dir", fix: []cfx{fxD("d", 0o755, "A")}, who: "A", umask: 0o077,
		steps: []trustOp{sSymlink("../nowhere", "d/l")}},
	{name: "symlink/no-write", fix: []cfx{fxD("d", 0o755, "B")}, who: "A",
		steps: []trustOp{sSymlink("x", "d/l")}},
	{name: "symlink/exists", fix: []cfx{fxD("d", 0o777, "A"), fxF("d/l", 0o644, "A")}, who: "A",
		steps: []trustOp{sSymlink("x", "d/l")}},

	// truncate(2)/ftruncate(2).
	{name: "truncate/writer-not-owner", fix: []cfx{fxF("f", 0o666, "B")}, who: "A",
		steps: []trustOp{sTruncate("f", 1)}},
	{name: "truncate/not-writable", fix: []cfx{fxF("f", 0o644, "B")}, who: "A",
		steps: []trustOp{sTruncate("f", 1)}},
	{name: "truncate/owner-not-writable", fix: []cfx{fxF("f", 0o444, "A")}, who: "A",
		steps: []trustOp{sTruncate("f", 1)}},
	{name: "truncate/clears-setid", fix: []cfx{fxF("f", 0o6777, "B")}, who: "A",
		steps: []trustOp{sTruncate("f", 2)}},
	{name: "open/trunc-clears-setid", fix: []cfx{fxF("f", 0o6777, "B")}, who: "A",
		steps: []trustOp{sOpen("f", oW|unix.O_TRUNC, 0)}},
	{name: "truncate/dir", fix: []cfx{fxD("d", 0o777, "A")}, who: "A",
		steps: []trustOp{sTruncate("d", 0)}},
	{name: "ftruncate/read-only-descriptor", fix: []cfx{fxF("f", 0o666, "A")}, who: "A",
		steps: []trustOp{sFtruncate("f", oR, 1)}},
	{name: "ftruncate/writer-not-owner", fix: []cfx{fxF("f", 0o666, "B")}, who: "A",
		steps: []trustOp{sFtruncate("f", oW, 3)}},
	{name: "ftruncate/clears-setid", fix: []cfx{fxF("f", 0o4777, "B")}, who: "A",
		steps: []trustOp{sFtruncate("f", oW, 1)}},
	{name: "ftruncate/after-fchmod-0", fix: []cfx{fxF("f", 0o644, "A")}, who: "A",
		steps: []trustOp{{Op: "fchmod0-ftruncate", Path: "f", Mode: 1}}},
	{name: "write/clears-setuid", fix: []cfx{fxF("f", 0o4777, "B"), fxF("g", 0o4777, "root")}, who: "A",
		steps: []trustOp{sWriteAt("f", "x"), sWriteAt("g", "x")}},
	{name: "write/clears-setgid-group-exec", fix: []cfx{fxF("f", 0o2777, "B")}, who: "A",
		steps: []trustOp{sWriteAt("f", "x")}},
	// Since Linux 6.2 a non-member's write drops S_ISGID even without
	// group execute; the kernel does not ask the daemon for that one.
	{name: "write/clears-setgid-no-group-exec", fix: []cfx{fxF("f", 0o2767, "B")}, who: "A",
		steps: []trustOp{sWriteAt("f", "x")}},

	// utimensat(2): UTIME_NOW needs write access (or ownership),
	// explicit times need ownership.
	{name: "utimensat/now-by-writer", fix: []cfx{fxF("f", 0o666, "B")}, who: "A",
		steps: []trustOp{sUtimens("f", "now")}},
	{name: "utimensat/null-by-writer", fix: []cfx{fxF("f", 0o666, "B")}, who: "A",
		steps: []trustOp{sUtimens("f", "null")}},
	{name: "utimensat/now-by-non-writer", fix: []cfx{fxF("f", 0o644, "B")}, who: "A",
		steps: []trustOp{sUtimens("f", "now"), sUtimens("f", "null"), sUtimens("f", "now-omit")}},
	{name: "utimensat/explicit-by-writer", fix: []cfx{fxF("f", 0o666, "B")}, who: "A",
		steps: []trustOp{sUtimens("f", "explicit")}},
	{name: "utimensat/explicit-by-owner-readonly", fix: []cfx{fxF("f", 0o444, "A")}, who: "A",
		steps: []trustOp{sUtimens("f", "explicit")}},
	{name: "utimensat/now-by-owner-readonly", fix: []cfx{fxF("f", 0o444, "A")}, who: "A",
		steps: []trustOp{sUtimens("f", "now")}},
	{name: "utimensat/omit-by-stranger", fix: []cfx{fxF("f", 0o600, "B")}, who: "A",
		steps: []trustOp{sUtimens("f", "omit")}},

	// access(2)/faccessat(2).
	{name: "access/x-not-executable", fix: []cfx{fxF("f", 0o644, "A")}, who: "A",
		steps: []trustOp{sAccess("f", unix.X_OK), sAccess("f", unix.R_OK|unix.W_OK)}},
	{name: "access/other-class", fix: []cfx{fxF("f", 0o604, "B")}, who: "A",
		steps: []trustOp{sAccess("f", unix.R_OK), sAccess("f", unix.W_OK), sAccess("f", unix.X_OK), sAccess("f", unix.F_OK)}},
	{name: "access/group-class", fix: []cfx{fxF("f", 0o070, "B:gA")}, who: "A",
		steps: []trustOp{sAccess("f", unix.R_OK|unix.W_OK|unix.X_OK)}},
	{name: "access/owner-execute-only", fix: []cfx{fxF("f", 0o100, "A")}, who: "A",
		steps: []trustOp{sAccess("f", unix.X_OK), sAccess("f", unix.R_OK)}},
	{name: "access/dir-search", fix: []cfx{fxD("d", 0o700, "B"), fxD("e", 0o711, "B")}, who: "A",
		steps: []trustOp{sAccess("d", unix.X_OK), sAccess("e", unix.X_OK), sAccess("e", unix.R_OK)}},
	{name: "access/missing", fix: []cfx{fxD("d", 0o755, "A")}, who: "A",
		steps: []trustOp{sAccess("d/none", unix.F_OK)}},

	// Search permission on every ancestor.
	{name: "search/no-search-on-parent", fix: []cfx{fxD("d", 0o700, "root"), fxF("d/f", 0o644, "root")}, who: "A",
		steps: []trustOp{sStat("d/f"), sRead("d/f"), sAccess("d/f", unix.R_OK)}},
	{name: "search/no-search-on-grandparent", fix: []cfx{fxD("d", 0o744, "B"), fxD("d/s", 0o777, "B"), fxF("d/s/f", 0o666, "B")}, who: "A",
		steps: []trustOp{sStat("d/s/f"), sWriteAt("d/s/f", "x"), sCreate("d/s/g", 0o644)}},
	{name: "search/no-search-on-parent-looked-up-by-root", fix: []cfx{fxD("d", 0o700, "root"), fxF("d/f", 0o644, "root"), fxD("d/s", 0o777, "root")},
		prime: []string{"d/f", "d/s"}, who: "A",
		steps: []trustOp{sStat("d/f"), sRead("d/f"), sCreate("d/s/g", 0o644), sChdir("d/s")}},
	{name: "search/search-without-read", fix: []cfx{fxD("d", 0o711, "B"), fxF("d/f", 0o644, "B")}, who: "A",
		steps: []trustOp{sRead("d/f"), sReaddir("d")}},
	{name: "search/chdir", fix: []cfx{fxD("d", 0o600, "B"), fxD("e", 0o711, "B")}, who: "A",
		steps: []trustOp{sChdir("d"), sChdir("e")}},
	{name: "readdir/unreadable", fix: []cfx{fxD("d", 0o311, "B"), fxF("d/f", 0o644, "B")}, who: "A",
		steps: []trustOp{sReaddir("d"), sStat("d/f")}},
	{name: "readdir/owner-unreadable", fix: []cfx{fxD("d", 0o300, "A"), fxF("d/f", 0o644, "A")}, who: "A",
		steps: []trustOp{sReaddir("d")}},

	// mknod(2) of fifos (and what a user may not make).
	{name: "mknod/fifo-umask", fix: []cfx{fxD("d", 0o755, "A")}, who: "A", umask: 0o022,
		steps: []trustOp{sMknod("d/p", unix.S_IFIFO|0o666)}},
	{name: "mknod/fifo-no-write", fix: []cfx{fxD("d", 0o755, "B")}, who: "A",
		steps: []trustOp{sMknod("d/p", unix.S_IFIFO|0o644)}},
	{name: "mknod/fifo-exists", fix: []cfx{fxD("d", 0o777, "A"), fxF("d/p", 0o644, "A")}, who: "A",
		steps: []trustOp{sMknod("d/p", unix.S_IFIFO|0o644)}},
	{name: "mknod/char-device-unprivileged", fix: []cfx{fxD("d", 0o755, "A")}, who: "A",
		steps: []trustOp{sMknod("d/c", unix.S_IFCHR|0o644)}},

	// user.* extended attributes.
	{name: "xattr/set-user-writable-not-owned", fix: []cfx{fxF("f", 0o666, "B")}, who: "A",
		steps: []trustOp{sSetx("f", "user.t"), sGetx("f", "user.t")}},
	{name: "xattr/set-user-not-writable", fix: []cfx{fxF("f", 0o644, "B")}, who: "A",
		steps: []trustOp{sSetx("f", "user.t")}},
	{name: "xattr/set-user-sticky-dir-not-owned", fix: []cfx{fxD("d", 0o1777, "B"), fxD("e", 0o1777, "A")}, who: "A",
		steps: []trustOp{sSetx("d", "user.t"), sSetx("e", "user.t")}},
	{name: "xattr/get-user-unreadable", fix: []cfx{fxF("f", 0o600, "B").withXattr("user.k"), fxF("g", 0o644, "B").withXattr("user.k")}, who: "A",
		steps: []trustOp{sGetx("f", "user.k"), sGetx("g", "user.k")}},
	{name: "xattr/remove-user-not-writable", fix: []cfx{fxF("f", 0o644, "B").withXattr("user.k"), fxF("g", 0o666, "B").withXattr("user.k")}, who: "A",
		steps: []trustOp{sRmx("f", "user.k"), sRmx("g", "user.k")}},
	{name: "xattr/user-on-symlink", fix: []cfx{fxF("f", 0o666, "A"), fxL("l", "f", "A")}, who: "A",
		steps: []trustOp{sSetx("l", "user.t")}},
	{name: "xattr/trusted-unprivileged", fix: []cfx{fxF("f", 0o666, "A")}, who: "A",
		steps: []trustOp{sSetx("f", "trusted.t"), sSetx("f", "security.t")}},
}

// confIDs are the two users' numbers.
type confIDs struct{ a, b testUser }

// uid and gid resolve the names the table uses.
func (ids confIDs) uid(name string) int {
	switch name {
	case "A":
		return ids.a.uid
	case "B":
		return ids.b.uid
	case "root":
		return 0
	case "-1":
		return -1
	}
	panic("conformance: unknown user " + name)
}

func (ids confIDs) gid(name string) int {
	switch name {
	case "gA", "A":
		return ids.a.gid
	case "gB", "B":
		return ids.b.gid
	case "root":
		return 0
	case "-1":
		return -1
	}
	panic("conformance: unknown group " + name)
}

// owner resolves "U" (the user and its own group) or "U:G".
func (ids confIDs) owner(s string) (int, int) {
	u, g, ok := strings.Cut(s, ":")
	if !ok {
		g = u
	}
	return ids.uid(u), ids.gid(g)
}

func (ids confIDs) uname(uid uint32) string {
	switch int(uid) {
	case ids.a.uid:
		return "A"
	case ids.b.uid:
		return "B"
	case 0:
		return "root"
	}
	return strconv.Itoa(int(uid))
}

func (ids confIDs) gname(gid uint32) string {
	switch int(gid) {
	case ids.a.gid:
		return "gA"
	case ids.b.gid:
		return "gB"
	case 0:
		return "root"
	}
	return strconv.Itoa(int(gid))
}

// who resolves "A", "B" or "A+gB" to a user and its supplementary groups.
func (ids confIDs) who(s string) (testUser, []uint32) {
	parts := strings.Split(s, "+")
	u := ids.a
	if parts[0] == "B" {
		u = ids.b
	}
	var groups []uint32
	for _, g := range parts[1:] {
		groups = append(groups, uint32(ids.gid(g)))
	}
	return u, groups
}

// makeFixture builds a case's entries below dir as root: contents first,
// then owner, then mode (chown clears set-id bits), then xattrs, then
// the common start time.
func makeFixture(t *testing.T, dir string, c confCase, ids confIDs) {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fix := append([]cfx(nil), c.fix...)
	// Parents before children: by depth, stably.
	sort.SliceStable(fix, func(i, j int) bool {
		return strings.Count(fix[i].path, "/") < strings.Count(fix[j].path, "/")
	})
	for _, f := range fix {
		p := filepath.Join(dir, f.path)
		var err error
		switch f.kind {
		case 'd':
			err = os.Mkdir(p, 0o700)
		case 'f':
			err = os.WriteFile(p, []byte(f.data), 0o600)
		case 'l':
			err = os.Symlink(f.data, p)
		case 'p':
			err = unix.Mkfifo(p, 0o600)
		case 'c':
			err = unix.Mknod(p, unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3)))
		}
		if err != nil {
			t.Fatalf("fixture %s: %v", f.path, err)
		}
		uid, gid := ids.owner(f.owner)
		if err := os.Lchown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
		if f.kind != 'l' {
			if err := unix.Chmod(p, f.mode); err != nil {
				t.Fatal(err)
			}
		}
		if f.xattr != "" {
			if err := unix.Lsetxattr(p, f.xattr, []byte("v"), 0); err != nil {
				t.Fatalf("fixture %s: setxattr: %v", f.path, err)
			}
		}
	}
	// Times last: making a child moves its parent's mtime.
	ts := []unix.Timespec{unix.NsecToTimespec(confT0.UnixNano()), unix.NsecToTimespec(confT0.UnixNano())}
	for _, f := range append(fix, cfx{path: "."}) {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, f.path), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatal(err)
		}
	}
}

// stepsAt makes a case's steps absolute below dir and its owner names
// numeric.
func (c confCase) stepsAt(dir string, ids confIDs) []trustOp {
	out := make([]trustOp, len(c.steps))
	for i, s := range c.steps {
		s.Path = filepath.Join(dir, s.Path)
		switch s.Op {
		case "rename", "link":
			s.Data = filepath.Join(dir, s.Data)
		case "chown", "lchown":
			u, g, _ := strings.Cut(s.Data, ":")
			s.Data = fmt.Sprintf("%d:%d", ids.uid(u), ids.gid(g))
		}
		out[i] = s
	}
	return out
}

// paths are the names whose state a case compares: every fixture entry
// and every name a step touches.
func (c confCase) paths() []string {
	seen := map[string]bool{".": true}
	for _, f := range c.fix {
		seen[f.path] = true
		if f.kind == 'l' && !filepath.IsAbs(f.data) {
			// open(O_CREAT) through a dangling symlink makes its target.
			seen[filepath.Join(filepath.Dir(f.path), f.data)] = true
		}
	}
	for _, s := range c.steps {
		seen[s.Path] = true
		if s.Op == "rename" || s.Op == "link" {
			seen[s.Data] = true
		}
	}
	var out []string
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// timeClass says which of the known times t is, so that two runs at
// different moments compare equal when the same thing happened.
func timeClass(ts unix.Timespec) string {
	switch t := time.Unix(ts.Unix()); {
	case t.Equal(confT0):
		return "T0"
	case t.Equal(confTx):
		return "Tx"
	}
	return "moved"
}

// confState describes p as root sees it, not following a symlink.
func confState(p string, ids confIDs, times bool) string {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return "(" + errName(err) + ")"
	}
	var b strings.Builder
	kind := map[uint32]string{unix.S_IFREG: "file", unix.S_IFDIR: "dir", unix.S_IFLNK: "symlink", unix.S_IFIFO: "fifo", unix.S_IFCHR: "chr"}[st.Mode&unix.S_IFMT]
	fmt.Fprintf(&b, "%s %04o %s:%s nlink=%d", kind, st.Mode&0o7777, ids.uname(st.Uid), ids.gname(st.Gid), st.Nlink)
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		fmt.Fprintf(&b, " size=%d", st.Size)
	case unix.S_IFLNK:
		target, _ := os.Readlink(p)
		fmt.Fprintf(&b, " ->%s", target)
	}
	fmt.Fprintf(&b, " mtime=%s", timeClass(st.Mtim))
	if times {
		fmt.Fprintf(&b, " atime=%s", timeClass(st.Atim))
	}
	buf := make([]byte, 1024)
	if n, err := unix.Llistxattr(p, buf); err == nil && n > 0 {
		var names []string
		for _, x := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
			if strings.HasPrefix(x, "user.") {
				names = append(names, x)
			}
		}
		if len(names) > 0 {
			fmt.Fprintf(&b, " xattrs=%v", names)
		}
	}
	return b.String()
}

// confRunScript runs steps as u with exactly the given supplementary
// groups (workerCmd gives none) and umask, bounded in time so that a
// hung call fails the test instead of stalling it.
func confRunScript(t *testing.T, u testUser, groups []uint32, umask int, steps []trustOp) trustResult {
	t.Helper()
	spec, _ := json.Marshal(trustJob{Action: "script", Umask: umask, Steps: steps})
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(c, userBinary(t), "-test.run=^$")
	cmd.Env = append(os.Environ(), trustWorkerEnv+"="+string(spec))
	if groups == nil {
		groups = []uint32{}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: groups}}
	cmd.Dir = "/"
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("worker as %s: %v: %s", u.name, err, errb.String())
	}
	var r trustResult
	if err := json.Unmarshal(out.Bytes(), &r); err != nil || len(r.Steps) != len(steps) {
		t.Fatalf("worker as %s: bad output %q: %v", u.name, out.String(), err)
	}
	return r
}

// confSide is one of the two places a case runs: acted on at act, made
// and inspected at src.
type confSide struct{ name, src, act string }

// confOutcome is what one run of one case gave.
type confOutcome struct {
	steps  []trustStepOut
	states map[string]string
	view   map[string]string // through the mount, for the mount side
}

// runConformance runs the whole table natively in src/native and through
// the mount in src/fuse (seen at mnt/fuse), and compares.
// kernelChecks: the mount runs with default_permissions.
func runConformance(t *testing.T, src, mnt string, ids confIDs, kernelChecks bool) {
	native := confSide{"native", filepath.Join(src, "native"), filepath.Join(src, "native")}
	fuse := confSide{"mount", filepath.Join(src, "fuse"), filepath.Join(mnt, "fuse")}
	sides := []confSide{native, fuse}
	for _, s := range sides {
		must(t, os.Mkdir(s.src, 0o755))
	}
	dirName := func(c confCase) string { return strings.ReplaceAll(c.name, "/", "_") }
	for _, c := range confCases {
		for _, s := range sides {
			makeFixture(t, filepath.Join(s.src, dirName(c)), c, ids)
		}
	}
	// Priming happens before any user acts, through each side's own path.
	for _, c := range confCases {
		for _, p := range c.prime {
			for _, s := range sides {
				var st unix.Stat_t
				if err := unix.Lstat(filepath.Join(s.act, dirName(c), p), &st); err != nil {
					t.Fatalf("%s: prime %s on %s: %v", c.name, p, s.name, err)
				}
			}
		}
	}
	// One worker per side, user and umask runs every case that shares
	// them (a process per case would cost seconds); every case works in a
	// directory of its own, so they cannot disturb one another.
	type batch struct {
		who   string
		umask int
	}
	var order []batch
	members := map[batch][]int{}
	for i, c := range confCases {
		k := batch{c.who, c.umask}
		if _, ok := members[k]; !ok {
			order = append(order, k)
		}
		members[k] = append(members[k], i)
	}
	out := map[string][]confOutcome{}
	for _, s := range sides {
		out[s.name] = make([]confOutcome, len(confCases))
		for _, k := range order {
			var steps []trustOp
			for _, i := range members[k] {
				steps = append(steps, confCases[i].stepsAt(filepath.Join(s.act, dirName(confCases[i])), ids)...)
			}
			u, groups := ids.who(k.who)
			r := confRunScript(t, u, groups, k.umask, steps)
			for _, i := range members[k] {
				n := len(confCases[i].steps)
				out[s.name][i].steps, r.Steps = r.Steps[:n], r.Steps[n:]
			}
		}
		for i, c := range confCases {
			times := false
			for _, st := range c.steps {
				times = times || st.Op == "utimens"
			}
			o := &out[s.name][i]
			o.states, o.view = map[string]string{}, map[string]string{}
			for _, p := range c.paths() {
				o.states[p] = confState(filepath.Join(s.src, dirName(c), p), ids, times)
				if s.src != s.act {
					o.view[p] = confState(filepath.Join(s.act, dirName(c), p), ids, times)
				}
			}
		}
	}
	diffs := 0
	for i, c := range confCases {
		t.Run(c.name, func(t *testing.T) {
			n, m := out["native"][i], out["mount"][i]
			var report []string
			for j, st := range c.steps {
				if n.steps[j] != m.steps[j] {
					report = append(report, fmt.Sprintf("step %d %s %s: native %s, mount %s", j, st.Op, st.Path, stepText(n.steps[j]), stepText(m.steps[j])))
				}
			}
			for _, p := range c.paths() {
				if n.states[p] != m.states[p] {
					report = append(report, fmt.Sprintf("state of %s: native %s, mount %s", p, n.states[p], m.states[p]))
				}
				if m.view[p] != m.states[p] {
					report = append(report, fmt.Sprintf("%s seen through the mount: %s, in its SOURCE: %s", p, m.view[p], m.states[p]))
				}
			}
			if testing.Verbose() {
				// The native outcome, for a reader checking that the
				// table exercises what its names say.
				var got []string
				for j, st := range c.steps {
					got = append(got, st.Op+" "+st.Path+": "+stepText(n.steps[j]))
				}
				t.Logf("native: %s", strings.Join(got, "; "))
			}
			if len(report) == 0 {
				return
			}
			if c.kernelOnly != "" && !kernelChecks {
				t.Logf("differs without default_permissions, as documented: %s", strings.Join(report, "; "))
				return
			}
			diffs++
			t.Errorf("parity failure as %s (umask %03o):\n\t%s", c.who, c.umask, strings.Join(report, "\n\t"))
		})
	}
	t.Logf("%d cases, %d with a parity failure", len(confCases), diffs)
}

func stepText(o trustStepOut) string {
	s := o.Err
	if s == "" {
		s = "ok"
	}
	if o.Mode != 0 || o.Uid != 0 {
		s += fmt.Sprintf(" (mode %04o uid %d)", o.Mode, o.Uid)
	}
	if o.Data != "" {
		s += fmt.Sprintf(" data %q", o.Data)
	}
	return s
}

// openParents makes the directories above src reachable by the users
// (t.TempDir makes them 0700).
func openParents(t *testing.T, src string) {
	t.Helper()
	for _, d := range []string{filepath.Dir(src), filepath.Dir(filepath.Dir(src))} {
		must(t, os.Chmod(d, 0o755))
	}
}

// TestConformance runs the permission table natively and through the
// mount: in-process with and without kernel passthrough, and as the real
// binary with an underneath watcher (which lengthens the kernel's cache
// lifetimes, so cached names and attributes are trusted for longer).
func TestConformance(t *testing.T) {
	requireFuse(t)
	ids := confIDs{a: newTestUser(t), b: newTestUser(t)}
	for _, mode := range dataModes {
		t.Run(mode.name, func(t *testing.T) {
			m := newMount(t, mode.opts...)
			openParents(t, m.src)
			runConformance(t, m.src, m.mnt, ids, true)
		})
	}
	// Without the kernel's check, SOURCE alone decides.
	t.Run("no-default-permissions", func(t *testing.T) {
		m := newMount(t, func(c *daemon.Config) { c.FS.DefaultPermissions = false })
		openParents(t, m.src)
		runConformance(t, m.src, m.mnt, ids, false)
	})
	t.Run("binary-fanotify", func(t *testing.T) {
		src, mnt := backingMount(t, "fanotify")
		openParents(t, src)
		runConformance(t, src, mnt, ids, true)
	})
}

// Helpers of the conformance steps in trustStep, run by the worker.

func confOpen(path, flags string, mode uint32) (trustStepOut, error) {
	var o trustStepOut
	fl, err := strconv.Atoi(flags)
	if err != nil {
		return o, err
	}
	fd, err := unix.Open(path, fl|unix.O_CLOEXEC, mode)
	if err != nil {
		return o, err
	}
	var st unix.Stat_t
	unix.Fstat(fd, &st)
	o.Mode, o.Uid = st.Mode&0o7777, st.Uid
	return o, unix.Close(fd)
}

func confChown(path, ids string, nofollow bool) error {
	var uid, gid int
	if _, err := fmt.Sscanf(ids, "%d:%d", &uid, &gid); err != nil {
		return err
	}
	if nofollow {
		return unix.Lchown(path, uid, gid)
	}
	return unix.Chown(path, uid, gid)
}

func confFtruncate(path, flags string, size int64, chmod0 bool) error {
	fl, err := strconv.Atoi(flags)
	if err != nil {
		return err
	}
	fd, err := unix.Open(path, fl|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if chmod0 {
		// The descriptor's access was granted at open; losing every
		// permission bit afterwards must not take it away.
		if err := unix.Fchmod(fd, 0); err != nil {
			return err
		}
	}
	return unix.Ftruncate(fd, size)
}

// confUtimens calls utimensat with the times how names; "null" passes a
// NULL times pointer, which x/sys/unix cannot express.
func confUtimens(path, how string) error {
	now := unix.Timespec{Nsec: unix.UTIME_NOW}
	omit := unix.Timespec{Nsec: unix.UTIME_OMIT}
	tx := unix.NsecToTimespec(confTx.UnixNano())
	var ts []unix.Timespec
	switch how {
	case "now":
		ts = []unix.Timespec{now, now}
	case "omit":
		ts = []unix.Timespec{omit, omit}
	case "now-omit":
		ts = []unix.Timespec{now, omit}
	case "explicit":
		ts = []unix.Timespec{tx, tx}
	case "null":
		p, err := unix.BytePtrFromString(path)
		if err != nil {
			return err
		}
		cwd := unix.AT_FDCWD // a negative constant does not convert to uintptr
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(cwd), uintptr(unsafe.Pointer(p)), 0, 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	default:
		return fmt.Errorf("utimens: unknown times %q", how)
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, 0)
}
