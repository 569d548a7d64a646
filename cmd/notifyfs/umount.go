package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
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
	holders, err := mountutil.HeldElsewhere(mi.Dev)
	if err != nil {
		return err
	}
	if len(holders) > 0 && !lazy {
		return fmt.Errorf("%s is also mounted in another mount namespace (%s): unmounting it here would leave the filesystem and its daemon running there; unmount it there, or pass --lazy to detach it here and stop the daemon (those mounts then fail with \"transport endpoint is not connected\" until unmounted)",
			mnt, strings.Join(holders, "; "))
	}
	// Stay connected across the unmount: the daemon closes its socket
	// when it has told every subscriber, so our return means it is done.
	ctx, cancel := context.WithTimeout(context.Background(), wait+10*time.Second)
	defer cancel()
	c, _ := dial(ctx, mnt, "")
	if c != nil {
		defer c.Close()
	}
	err = mountutil.Unmount(mnt, wait, lazy)
	detached := errors.Is(err, mountutil.ErrDetached)
	if err != nil && !detached {
		return err
	}
	if detached && len(holders) == 0 {
		// The daemon serves the remaining users until they leave.
		fmt.Fprintf(os.Stderr, "notifyfs: %s was busy and is detached; the daemon exits when its last user leaves\n", mnt)
		return nil
	}
	if len(holders) > 0 {
		// Gone from here, alive there: only ending the connection stops
		// the daemon (and frees its journal for the next mount).
		if err := mountutil.Abort(mi.Dev); err != nil {
			return fmt.Errorf("%s is detached here but still mounted elsewhere (%s), and its daemon could not be stopped: %w", mnt, strings.Join(holders, "; "), err)
		}
		fmt.Fprintf(os.Stderr, "notifyfs: %s is detached and its daemon stopped; it was also mounted elsewhere (%s), where it now fails until unmounted\n", mnt, strings.Join(holders, "; "))
	}
	if c != nil && !waitClosed(ctx, c.Events()) {
		// Unmounted here, yet the daemon lives on: someone held the
		// filesystem after all (a namespace made since the check).
		where := "in no mount namespace this user may inspect"
		if holders, _ := mountutil.HeldElsewhere(mi.Dev); len(holders) > 0 {
			where = strings.Join(holders, "; ")
		}
		return fmt.Errorf("%s is unmounted here, but its daemon is still running: the filesystem is held elsewhere (%s); unmount it there", mnt, where)
	}
	return nil
}

// waitClosed waits until the connection's event channel is closed (the
// daemon hung up: true) or ctx ends (false).
func waitClosed[T any](ctx context.Context, ch <-chan T) bool {
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return true
			}
		case <-ctx.Done():
			return false
		}
	}
}
