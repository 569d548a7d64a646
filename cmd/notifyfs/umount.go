package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/notifyfs/notifyfs/mountutil"
)

func runUmount(args []string) error {
	set := newFlagSet("umount", "[flags] MOUNTPOINT")
	var lazy bool
	var wait time.Duration
	set.BoolVar(&lazy, "lazy", false, "if still busy after --wait, detach the mount anyway")
	set.DurationVar(&wait, "wait", 5*time.Second, "how long to retry while the mount is busy")
	pos, err := parse(set, args, "MOUNTPOINT")
	if err != nil {
		return err
	}
	mnt, err := absPath(pos[0])
	if err != nil {
		return err
	}
	if mountutil.IsStale(mnt) {
		_, err := mountutil.ClearStale(mnt)
		return err
	}
	mnt, err = mountutil.CanonicalDir("mount point", mnt)
	if err != nil {
		return err
	}
	mi, ok, err := mountutil.Lookup(mnt)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s is not mounted", mnt)
	}
	if mi.FSType != "" && mi.FSType != "fuse.notifyfs" {
		return fmt.Errorf("%s is a %s mount, not notifyfs; refusing to unmount it", mnt, mi.FSType)
	}
	// Stay connected across the unmount: the daemon closes its socket
	// when it has told every subscriber, so our return means it is done.
	ctx, cancel := context.WithTimeout(context.Background(), wait+10*time.Second)
	defer cancel()
	c, _ := dial(ctx, mnt, "")
	if err := mountutil.Unmount(mnt, wait, lazy); err != nil {
		if c != nil {
			c.Close()
		}
		if errors.Is(err, mountutil.ErrDetached) {
			// The daemon serves the remaining users until they leave.
			fmt.Fprintf(os.Stderr, "notifyfs: %s was busy and is detached; the daemon exits when its last user leaves\n", mnt)
			return nil
		}
		return err
	}
	if c != nil {
		waitClosed(ctx, c.Events())
		c.Close()
	}
	return nil
}

// waitClosed waits until the connection's event channel is closed (the
// daemon hung up) or ctx ends.
func waitClosed[T any](ctx context.Context, ch <-chan T) {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
