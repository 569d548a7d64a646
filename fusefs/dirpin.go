package fusefs

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fs"

	"golang.org/x/sys/unix"

	"github.com/notifyfs/notifyfs/internal/beneath"
)

// dirPin is an O_PATH descriptor of a directory, held by its node while
// the kernel knows the node: the start of every *at() call a privileged
// caller makes on its entries. It names the directory itself, so it
// follows the directory wherever it is renamed, and it stops resolution
// from walking the whole path from SOURCE's root.
//
// A pin is shared by the node and every operation using it; the last to
// let go closes it (refs), so a pin dropped while an operation still uses
// it is never closed — and its number reused — under that operation.
type dirPin struct {
	fd   int
	refs int // guarded by the owning Node's pinMu
	// checked is the tree generation in which the pin was last shown to
	// be where the node's path says; at, when.
	checked uint64
	at      time.Time
	// kept: the node holds it, and it counts against FS.maxPins.
	kept bool
}

// pinned returns a descriptor of the directory node d, from its pin or a
// new one opened from its parent's (pinned in turn), verified to be d's
// directory. The descriptor is borrowed until o.done.
func (o *op) pinned(d *Node) (int, error) {
	f := o.f
	if d == f.root {
		return f.rootfd, nil
	}
	d.pinMu.Lock()
	if p := d.pin; p != nil && f.pinFresh(p) {
		p.refs++
		d.pinMu.Unlock()
		o.drop, o.owner = append(o.drop, p), append(o.owner, d)
		return p.fd, nil
	}
	d.pinMu.Unlock()

	name, parent := d.Parent()
	if parent == nil {
		return -1, unix.ENOENT
	}
	pn, ok := parent.Operations().(*Node)
	if !ok {
		return -1, unix.EIO
	}
	pfd, err := o.pinned(pn)
	if err != nil {
		return -1, err
	}
	fd, err := unix.Openat(pfd, name, beneath.DirFlags|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ENOTDIR || err == unix.ELOOP {
			err = unix.ESTALE // the name holds something else now
		}
		return -1, err
	}
	if err := f.verify(fd, "", d); err != nil {
		unix.Close(fd)
		return -1, err
	}
	p := &dirPin{fd: fd, refs: 1, checked: f.treeGen.Load(), at: time.Now()}
	d.pinMu.Lock()
	old := d.pin
	keep := f.pins.Add(1) <= f.maxPins
	if keep {
		d.pin = p
		p.kept = true
		p.refs++ // the node's own reference
	} else {
		f.pins.Add(-1)
		d.pin = nil
	}
	d.pinMu.Unlock()
	if old != nil {
		d.unrefPin(old) // the node's reference to the stale pin
	}
	o.drop, o.owner = append(o.drop, p), append(o.owner, d)
	return fd, nil
}

// unrefPin lets go of one reference to p, closing it with the last.
func (n *Node) unrefPin(p *dirPin) {
	n.pinMu.Lock()
	p.refs--
	last := p.refs == 0
	n.pinMu.Unlock()
	if last {
		unix.Close(p.fd)
		if p.kept {
			n.fsys.pins.Add(-1)
		}
	}
}

// dropPin lets go of the node's own pin (the kernel forgot the node).
func (n *Node) dropPin() {
	n.pinMu.Lock()
	p := n.pin
	n.pin = nil
	n.pinMu.Unlock()
	if p != nil {
		n.unrefPin(p)
	}
}

// dropPins lets go of the pins of every node still known: at unmount the
// kernel forgets nodes without telling (no OnForget), and a pin left open
// would keep SOURCE's file system busy after the daemon stopped.
func (f *FS) dropPins() {
	var walk func(in *fs.Inode)
	walk = func(in *fs.Inode) {
		for _, ch := range in.Children() {
			if ch.IsDir() {
				walk(ch)
			}
		}
		if n, ok := in.Operations().(*Node); ok {
			n.dropPin()
		}
	}
	walk(f.root.EmbeddedInode())
}
