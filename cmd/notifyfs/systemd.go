package main

import (
	"fmt"

	sd "github.com/coreos/go-systemd/v22/daemon"
)

// notifySystemd tells the service manager (Type=notify units, see
// contrib/systemd) about the daemon's state. Without NOTIFY_SOCKET it
// does nothing; a failure to send costs nothing but the message, so it
// is not reported.
func notifySystemd(state string) {
	_, _ = sd.SdNotify(false, state)
}

// notifyReady is READY=1 with a STATUS line, sent once the mount is
// ready and its socket serves.
func notifyReady(source, mnt, socket string) {
	notifySystemd(fmt.Sprintf("%s\nSTATUS=serving %s at %s; events on %s", sd.SdNotifyReady, source, mnt, socket))
}

// notifyStopping is STOPPING=1 with the reason.
func notifyStopping(why string) {
	notifySystemd(sd.SdNotifyStopping + "\nSTATUS=" + why)
}
