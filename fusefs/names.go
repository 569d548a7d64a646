package fusefs

import "sync"

// nameLock keeps event paths true at the moment each event is published.
// An event names its object by the path the mount knows at publish time;
// a rename elsewhere in the tree (of the object, or of a directory above
// it) must not slip between computing that path and publishing the
// event, or the event would name a path that no longer exists and come
// after the rename that moved it. Every operation that publishes holds
// the lock shared; rename holds it exclusively. Operations on different
// objects still run in parallel; only renames are serialised against
// everything that publishes.
//
// Code holding it shared must not wait for another holder (Go's RWMutex
// blocks new readers once a writer waits); the one wait that does —
// awaitReleases — is bounded.
type nameLock struct{ mu sync.RWMutex }

// lockShared is for operations that publish: defer l.lockShared()().
func (l *nameLock) lockShared() func() {
	l.mu.RLock()
	return l.mu.RUnlock
}

// lockExclusive is for renames.
func (l *nameLock) lockExclusive() func() {
	l.mu.Lock()
	return l.mu.Unlock
}
