package daemon

import (
	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/kqshim"
)

// openIndex compares SOURCE with the offline index kept beside the
// journal and publishes what changed while no daemon ran, before any
// other event: the watcher is already running (so nothing made from now
// on is missed) but its events wait at the gate until these are out,
// and the mount is not up yet. Without a journal there is no cursor to
// resume across runs, so no index either. An index that cannot be kept
// (SOURCE unreadable) is reported and the mount goes on without it: the
// next mount then finds no usable index and publishes a rescan.
func (d *Daemon) openIndex() {
	if d.cfg.Bus.Journal.Dir == "" {
		return
	}
	ix, evs, err := kqshim.OpenIndex(kqshim.IndexConfig{
		Dir: d.cfg.Bus.Journal.Dir, Source: d.cfg.Source,
		Interval: d.cfg.Underneath.IndexInterval, Logf: d.cfg.Logger.Printf,
	}, d.under, d.bus)
	if err != nil {
		d.cfg.Logger.Printf("%v: changes made while unmounted will not be reported", err)
		return
	}
	for _, ev := range evs {
		d.bus.Publish(ev)
	}
	if len(evs) > 0 && evs[0].Type != eventbus.Rescan {
		d.cfg.Logger.Printf("%d changes made underneath %s while it was not mounted", len(evs), d.cfg.Source)
	}
	if err := ix.Follow(d.bus); err != nil {
		ix.Close()
		d.cfg.Logger.Printf("offline index: %v", err)
		return
	}
	d.index = ix
}

// openGate lets the watcher's events through.
func (d *Daemon) openGate() { d.gateOnce.Do(func() { close(d.gate) }) }
