package main

import (
	"log"
	"sync/atomic"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/kqshim"
)

// flushTimeout bounds how long a sync waits for the underneath watcher
// (a poll backend scans the whole tree to answer).
const flushTimeout = 30 * time.Second

// longTTL is the kernel cache lifetime when a kernel backend keeps the
// caches true by invalidation; each expiry costs a round trip to the
// daemon, so long lifetimes make warm lookups nearly native.
const longTTL = time.Minute

// underneath ties the watcher to the mount, which exists only after it:
// the watcher must start first so that no change slips between the two.
type underneath struct {
	w          *kqshim.Watcher
	invalidate atomic.Pointer[func(*eventbus.Event)]
}

// setInvalidate connects the filesystem once it exists.
func (u *underneath) setInvalidate(f func(*eventbus.Event)) { u.invalidate.Store(&f) }

// watchUnderneath starts the watcher the flags ask for (nil for off) and
// sets the kernel cache lifetimes to suit it, unless the user chose them.
func watchUnderneath(mf *mountFlags, source string, bus *eventbus.Bus, logger *log.Logger) (*underneath, error) {
	if mf.underneath.Backend == "off" {
		return nil, nil
	}
	u := &underneath{}
	w, err := kqshim.New(mf.underneath, kqshim.Config{
		Source:  source,
		Publish: func(ev *eventbus.Event) { bus.Publish(ev) },
		Invalidate: func(ev *eventbus.Event) {
			if f := u.invalidate.Load(); f != nil {
				(*f)(ev)
			}
		},
		Logf: logger.Printf,
	})
	if err != nil {
		return nil, err
	}
	u.w = w
	if !mf.ttlsChosen && w.Backend() != "poll" {
		mf.fs.EntryTimeout, mf.fs.AttrTimeout, mf.fs.NegativeTimeout = longTTL, longTTL, longTTL
	}
	logger.Printf("changes underneath %s are seen with %s", source, w.Backend())
	return u, nil
}
