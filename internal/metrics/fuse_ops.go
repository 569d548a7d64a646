// Generated from go-fuse v2.12.1's fuse.RawFileSystem (regenerate for a
// new go-fuse: one method per request, each timed).

package metrics

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// The operations timed: every request method of fuse.RawFileSystem
// (Forget, Init and the like are not requests that take time).
const (
	opLookup = iota
	opGetAttr
	opSetAttr
	opMknod
	opMkdir
	opUnlink
	opRmdir
	opRename
	opLink
	opSymlink
	opReadlink
	opAccess
	opGetXAttr
	opListXAttr
	opSetXAttr
	opRemoveXAttr
	opCreate
	opTmpfile
	opOpen
	opRead
	opLseek
	opGetLk
	opSetLk
	opSetLkw
	opRelease
	opWrite
	opWritev
	opCopyFileRange
	opIoctl
	opFlush
	opFsync
	opFallocate
	opOpenDir
	opReadDir
	opReadDirPlus
	opReleaseDir
	opFsyncDir
	opStatFs
	opStatx
	opCount
)

// opNames are the "op" label values.
var opNames = [opCount]string{
	opLookup:        "lookup",
	opGetAttr:       "getattr",
	opSetAttr:       "setattr",
	opMknod:         "mknod",
	opMkdir:         "mkdir",
	opUnlink:        "unlink",
	opRmdir:         "rmdir",
	opRename:        "rename",
	opLink:          "link",
	opSymlink:       "symlink",
	opReadlink:      "readlink",
	opAccess:        "access",
	opGetXAttr:      "getxattr",
	opListXAttr:     "listxattr",
	opSetXAttr:      "setxattr",
	opRemoveXAttr:   "removexattr",
	opCreate:        "create",
	opTmpfile:       "tmpfile",
	opOpen:          "open",
	opRead:          "read",
	opLseek:         "lseek",
	opGetLk:         "getlk",
	opSetLk:         "setlk",
	opSetLkw:        "setlkw",
	opRelease:       "release",
	opWrite:         "write",
	opWritev:        "writev",
	opCopyFileRange: "copyfilerange",
	opIoctl:         "ioctl",
	opFlush:         "flush",
	opFsync:         "fsync",
	opFallocate:     "fallocate",
	opOpenDir:       "opendir",
	opReadDir:       "readdir",
	opReadDirPlus:   "readdirplus",
	opReleaseDir:    "releasedir",
	opFsyncDir:      "fsyncdir",
	opStatFs:        "statfs",
	opStatx:         "statx",
}

func (t *timedFS) Lookup(cancel <-chan struct{}, header *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	defer t.observe(opLookup, time.Now())
	return t.RawFileSystem.Lookup(cancel, header, name, out)
}

func (t *timedFS) GetAttr(cancel <-chan struct{}, input *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer t.observe(opGetAttr, time.Now())
	return t.RawFileSystem.GetAttr(cancel, input, out)
}

func (t *timedFS) SetAttr(cancel <-chan struct{}, input *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	defer t.observe(opSetAttr, time.Now())
	return t.RawFileSystem.SetAttr(cancel, input, out)
}

func (t *timedFS) Mknod(cancel <-chan struct{}, input *fuse.MknodIn, name string, out *fuse.EntryOut) fuse.Status {
	defer t.observe(opMknod, time.Now())
	return t.RawFileSystem.Mknod(cancel, input, name, out)
}

func (t *timedFS) Mkdir(cancel <-chan struct{}, input *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	defer t.observe(opMkdir, time.Now())
	return t.RawFileSystem.Mkdir(cancel, input, name, out)
}

func (t *timedFS) Unlink(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	defer t.observe(opUnlink, time.Now())
	return t.RawFileSystem.Unlink(cancel, header, name)
}

func (t *timedFS) Rmdir(cancel <-chan struct{}, header *fuse.InHeader, name string) fuse.Status {
	defer t.observe(opRmdir, time.Now())
	return t.RawFileSystem.Rmdir(cancel, header, name)
}

func (t *timedFS) Rename(cancel <-chan struct{}, input *fuse.RenameIn, oldName string, newName string) fuse.Status {
	defer t.observe(opRename, time.Now())
	return t.RawFileSystem.Rename(cancel, input, oldName, newName)
}

func (t *timedFS) Link(cancel <-chan struct{}, input *fuse.LinkIn, filename string, out *fuse.EntryOut) fuse.Status {
	defer t.observe(opLink, time.Now())
	return t.RawFileSystem.Link(cancel, input, filename, out)
}

func (t *timedFS) Symlink(cancel <-chan struct{}, header *fuse.InHeader, pointedTo string, linkName string, out *fuse.EntryOut) fuse.Status {
	defer t.observe(opSymlink, time.Now())
	return t.RawFileSystem.Symlink(cancel, header, pointedTo, linkName, out)
}

func (t *timedFS) Readlink(cancel <-chan struct{}, header *fuse.InHeader) ([]byte, fuse.Status) {
	defer t.observe(opReadlink, time.Now())
	return t.RawFileSystem.Readlink(cancel, header)
}

func (t *timedFS) Access(cancel <-chan struct{}, input *fuse.AccessIn) fuse.Status {
	defer t.observe(opAccess, time.Now())
	return t.RawFileSystem.Access(cancel, input)
}

func (t *timedFS) GetXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	defer t.observe(opGetXAttr, time.Now())
	return t.RawFileSystem.GetXAttr(cancel, header, attr, dest)
}

func (t *timedFS) ListXAttr(cancel <-chan struct{}, header *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	defer t.observe(opListXAttr, time.Now())
	return t.RawFileSystem.ListXAttr(cancel, header, dest)
}

func (t *timedFS) SetXAttr(cancel <-chan struct{}, input *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	defer t.observe(opSetXAttr, time.Now())
	return t.RawFileSystem.SetXAttr(cancel, input, attr, data)
}

func (t *timedFS) RemoveXAttr(cancel <-chan struct{}, header *fuse.InHeader, attr string) fuse.Status {
	defer t.observe(opRemoveXAttr, time.Now())
	return t.RawFileSystem.RemoveXAttr(cancel, header, attr)
}

func (t *timedFS) Create(cancel <-chan struct{}, input *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	defer t.observe(opCreate, time.Now())
	return t.RawFileSystem.Create(cancel, input, name, out)
}

func (t *timedFS) Tmpfile(cancel <-chan struct{}, input *fuse.CreateIn, out *fuse.CreateOut) fuse.Status {
	defer t.observe(opTmpfile, time.Now())
	return t.RawFileSystem.Tmpfile(cancel, input, out)
}

func (t *timedFS) Open(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer t.observe(opOpen, time.Now())
	return t.RawFileSystem.Open(cancel, input, out)
}

func (t *timedFS) Read(cancel <-chan struct{}, input *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	defer t.observe(opRead, time.Now())
	return t.RawFileSystem.Read(cancel, input, buf)
}

func (t *timedFS) Lseek(cancel <-chan struct{}, in *fuse.LseekIn, out *fuse.LseekOut) fuse.Status {
	defer t.observe(opLseek, time.Now())
	return t.RawFileSystem.Lseek(cancel, in, out)
}

func (t *timedFS) GetLk(cancel <-chan struct{}, input *fuse.LkIn, out *fuse.LkOut) fuse.Status {
	defer t.observe(opGetLk, time.Now())
	return t.RawFileSystem.GetLk(cancel, input, out)
}

func (t *timedFS) SetLk(cancel <-chan struct{}, input *fuse.LkIn) fuse.Status {
	defer t.observe(opSetLk, time.Now())
	return t.RawFileSystem.SetLk(cancel, input)
}

func (t *timedFS) SetLkw(cancel <-chan struct{}, input *fuse.LkIn) fuse.Status {
	defer t.observe(opSetLkw, time.Now())
	return t.RawFileSystem.SetLkw(cancel, input)
}

func (t *timedFS) Release(cancel <-chan struct{}, input *fuse.ReleaseIn) {
	defer t.observe(opRelease, time.Now())
	t.RawFileSystem.Release(cancel, input)
}

func (t *timedFS) Write(cancel <-chan struct{}, input *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	defer t.observe(opWrite, time.Now())
	return t.RawFileSystem.Write(cancel, input, data)
}

func (t *timedFS) Writev(cancel <-chan struct{}, input *fuse.WriteIn, data [][]byte) (uint32, fuse.Status) {
	defer t.observe(opWritev, time.Now())
	return t.RawFileSystem.Writev(cancel, input, data)
}

func (t *timedFS) CopyFileRange(cancel <-chan struct{}, input *fuse.CopyFileRangeIn) (uint32, fuse.Status) {
	defer t.observe(opCopyFileRange, time.Now())
	return t.RawFileSystem.CopyFileRange(cancel, input)
}

func (t *timedFS) Ioctl(cancel <-chan struct{}, input *fuse.IoctlIn, inbuf []byte, output *fuse.IoctlOut, outbuf []byte) fuse.Status {
	defer t.observe(opIoctl, time.Now())
	return t.RawFileSystem.Ioctl(cancel, input, inbuf, output, outbuf)
}

func (t *timedFS) Flush(cancel <-chan struct{}, input *fuse.FlushIn) fuse.Status {
	defer t.observe(opFlush, time.Now())
	return t.RawFileSystem.Flush(cancel, input)
}

func (t *timedFS) Fsync(cancel <-chan struct{}, input *fuse.FsyncIn) fuse.Status {
	defer t.observe(opFsync, time.Now())
	return t.RawFileSystem.Fsync(cancel, input)
}

func (t *timedFS) Fallocate(cancel <-chan struct{}, input *fuse.FallocateIn) fuse.Status {
	defer t.observe(opFallocate, time.Now())
	return t.RawFileSystem.Fallocate(cancel, input)
}

func (t *timedFS) OpenDir(cancel <-chan struct{}, input *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	defer t.observe(opOpenDir, time.Now())
	return t.RawFileSystem.OpenDir(cancel, input, out)
}

func (t *timedFS) ReadDir(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer t.observe(opReadDir, time.Now())
	return t.RawFileSystem.ReadDir(cancel, input, out)
}

func (t *timedFS) ReadDirPlus(cancel <-chan struct{}, input *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	defer t.observe(opReadDirPlus, time.Now())
	return t.RawFileSystem.ReadDirPlus(cancel, input, out)
}

func (t *timedFS) ReleaseDir(input *fuse.ReleaseIn) {
	defer t.observe(opReleaseDir, time.Now())
	t.RawFileSystem.ReleaseDir(input)
}

func (t *timedFS) FsyncDir(cancel <-chan struct{}, input *fuse.FsyncIn) fuse.Status {
	defer t.observe(opFsyncDir, time.Now())
	return t.RawFileSystem.FsyncDir(cancel, input)
}

func (t *timedFS) StatFs(cancel <-chan struct{}, input *fuse.InHeader, out *fuse.StatfsOut) fuse.Status {
	defer t.observe(opStatFs, time.Now())
	return t.RawFileSystem.StatFs(cancel, input, out)
}

func (t *timedFS) Statx(cancel <-chan struct{}, input *fuse.StatxIn, out *fuse.StatxOut) fuse.Status {
	defer t.observe(opStatx, time.Now())
	return t.RawFileSystem.Statx(cancel, input, out)
}
