package daemon

import (
	"strings"

	"github.com/notifyfs/notifyfs/mountutil"
)

// abortIfHeldElsewhere ends the FUSE connection of a filesystem that
// other mount namespaces still hold (a container started while it was
// mounted) once it is unmounted here: otherwise the kernel never lets
// go of it, and this daemon — told to exit — would serve those mounts
// unseen, holding its journal, until they go.
func (d *Daemon) abortIfHeldElsewhere(dev string) bool {
	if dev == "" {
		return false
	}
	holders, err := mountutil.HeldElsewhere(dev)
	if err != nil || len(holders) == 0 {
		return false
	}
	if err := mountutil.Abort(dev); err != nil {
		d.cfg.Logger.Printf("%s is still mounted elsewhere (%s) and could not be stopped: %v", d.cfg.MountPoint, strings.Join(holders, "; "), err)
		return false
	}
	d.cfg.Logger.Printf("%s was also mounted elsewhere (%s); its connection is ended, those mounts fail until unmounted", d.cfg.MountPoint, strings.Join(holders, "; "))
	return true
}
