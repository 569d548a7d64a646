package kqshim

import (
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
)

// An announcement stands while its operation runs and until the backend
// has drained past the moment it finished; not a moment longer.
func TestLedgerWindow(t *testing.T) {
	l := newLedger()
	done := l.Expect(eventbus.Create, "a", "", 0, 0)
	if !l.isEcho(noteCreated, "a", 0, 0) {
		t.Fatal("running operation not recognised")
	}
	if l.isEcho(noteRemoved, "a", 0, 0) {
		t.Fatal("a create must not absorb a removal of the same name")
	}
	if l.isEcho(noteCreated, "b", 0, 0) {
		t.Fatal("another name recognised")
	}
	m := l.mark()
	l.retire(m) // the drain began before the operation finished
	if !l.isEcho(noteCreated, "a", 0, 0) {
		t.Fatal("retired while still running")
	}
	done()
	l.retire(m) // still the old mark: the drain could predate the notes
	if !l.isEcho(noteCreated, "a", 0, 0) {
		t.Fatal("retired by a drain that began before the operation finished")
	}
	l.retire(l.mark())
	if l.isEcho(noteCreated, "a", 0, 0) || l.standing() != 0 {
		t.Fatalf("not retired after a full drain (standing %d)", l.standing())
	}
}

// Objects are matched by inode and birth time: a recycled inode number
// is another file.
func TestLedgerInodeIdentity(t *testing.T) {
	l := newLedger()
	done := l.Expect(eventbus.Write, "", "", 42, 1000)
	defer done()
	if !l.isEcho(noteData, "anything", 42, 1000) {
		t.Error("same inode, same birth: not recognised")
	}
	if l.isEcho(noteData, "anything", 42, 2000) {
		t.Error("recycled inode number recognised")
	}
	if l.isEcho(noteData, "", 0, 0) {
		t.Error(`an inode-only announcement matched the root path ""`)
	}
}

// A rename the mount makes carries standing announcements to the new
// names, below a moved directory too.
func TestLedgerFollowsMountRenames(t *testing.T) {
	l := newLedger()
	open := l.Expect(eventbus.CloseWrite, "d/f", "", 7, 0)
	defer open()
	mv := l.Expect(eventbus.Rename, "e", "d", 0, 0)
	mv()
	if !l.isEcho(noteClosed, "e/f", 0, 0) {
		t.Error("announcement did not follow the rename of its directory")
	}
	open()
	l.retire(l.mark())
	if l.isEcho(noteClosed, "e/f", 0, 0) || len(l.byPath) != 0 {
		t.Errorf("aliases left behind: %v", l.byPath)
	}
}
