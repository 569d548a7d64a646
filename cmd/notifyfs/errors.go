package main

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/notifyfs/notifyfs/mountutil"
)

// daemonError says in the user's terms why the daemon of mnt could not
// be reached: "connection refused" on a socket path means nothing to
// someone who typed a mount point.
func daemonError(mnt string, err error) error {
	if err == nil {
		return nil
	}
	var nse *mountutil.NoSocketError
	if !errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ENOENT) && !errors.As(err, &nse) {
		return err
	}
	if mountutil.IsStale(mnt) {
		return fmt.Errorf("the daemon of %s is not running; run notifyfs umount %s", mnt, mnt)
	}
	if nse != nil && nse.Expected == "" {
		return err // already says it in the user's terms
	}
	if _, ok, _ := mountutil.Lookup(mnt); !ok {
		return fmt.Errorf("%s is not a notifyfs mount (nothing is mounted there)", mnt)
	}
	return fmt.Errorf("the daemon of %s does not answer on its socket (%v)", mnt, err)
}
