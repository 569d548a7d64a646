package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// dirHandle is an open directory: go-fuse's loopback stream over a SOURCE
// descriptor, counted against its opener's handle budget like a file (a
// user holding directories open must not take every descriptor of the
// daemon either).
type dirHandle struct {
	stream interface {
		fs.FileReaddirenter
		fs.FileSeekdirer
		fs.FileFsyncdirer
		fs.FileReleasedirer
	}
	release func()
}

var (
	_ = (fs.FileReaddirenter)((*dirHandle)(nil))
	_ = (fs.FileSeekdirer)((*dirHandle)(nil))
	_ = (fs.FileFsyncdirer)((*dirHandle)(nil))
	_ = (fs.FileReleasedirer)((*dirHandle)(nil))
)

func (d *dirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	return d.stream.Readdirent(ctx)
}

func (d *dirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	return d.stream.Seekdir(ctx, off)
}

func (d *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return d.stream.Fsyncdir(ctx, flags)
}

func (d *dirHandle) Releasedir(ctx context.Context, flags uint32) {
	d.stream.Releasedir(ctx, flags)
	d.release()
}
