package journals

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

func TestListPrune(t *testing.T) {
	state := t.TempDir()
	live := filepath.Join(state, "journal-live")
	bus, err := eventbus.OpenBus(eventbus.Options{Journal: eventbus.JournalOptions{Dir: live}})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close()
	bus.Publish(&eventbus.Event{Type: eventbus.Create, Path: "a"})
	WriteOrigin(live, "/src", "/mnt")
	old := filepath.Join(state, "journal-old")
	os.Mkdir(old, 0o700)
	os.WriteFile(filepath.Join(old, "00000000000000000001.seg"), []byte("x"), 0o600)
	past := time.Now().Add(-48 * time.Hour)
	os.Chtimes(filepath.Join(old, "00000000000000000001.seg"), past, past)
	os.Chtimes(old, past, past)

	all, err := List(state)
	if err != nil || len(all) != 2 {
		t.Fatalf("List: %v %+v", err, all)
	}
	if !all[0].InUse || all[0].Mount != "/mnt" || all[0].Segments == 0 || all[1].InUse {
		t.Fatalf("List: %+v", all)
	}
	pruned, err := Prune(state, 0, false)
	if err != nil || len(pruned) != 1 || pruned[0].Dir != old {
		t.Fatalf("Prune: %v %+v", err, pruned)
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("the journal in use went: %v", err)
	}
}
