package kqshim

import (
	"testing"
	"time"

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

// Another host's close of a file it wrote, then its rename of the file:
// the kernel's close (its RELEASE comes after close(2) returned) can
// follow the rename, and a backend here then reads the close under the
// new name. The announcement of the close follows the rename; nothing
// else does.
func TestRemoteAnnouncementFollowsRename(t *testing.T) {
	var r remoteLedger
	until := time.Now().Add(time.Minute)
	r.expect(eventbus.CloseWrite, "d/f", "", until, 0)
	if r.covers(noteClosed, "d/r") {
		t.Fatal("a close announced for d/f covers d/r before any rename")
	}
	r.expect(eventbus.Rename, "d/r", "d/f", until, 0)
	if !r.covers(noteClosed, "d/r") {
		t.Error("the close announced for d/f does not cover d/r after the rename d/f → d/r")
	}
	if !r.covers(noteClosed, "d/f") {
		t.Error("the close is no longer covered under its own name")
	}
	if r.covers(noteData, "d/r") || r.covers(noteAttr, "d/r") {
		t.Error("the rename widened what d/r absorbs beyond what was announced for d/f")
	}
	if !r.coversEvent(&eventbus.Event{Type: eventbus.CloseWrite, Path: "d/r"}) {
		t.Error("a held close_write d/r is not dropped")
	}
}
