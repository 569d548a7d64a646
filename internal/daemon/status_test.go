package daemon

import (
	"encoding/json"
	"testing"

	"github.com/notifyfs/notifyfs/kqshim"
	"github.com/notifyfs/notifyfs/subscribers"
)

// TestStatusIsOneFlatObject: the server's fields, the filesystem's and
// "underneath" side by side, as `notifyfs status` has always shown them.
func TestStatusIsOneFlatObject(t *testing.T) {
	st := Status{
		Status:     &subscribers.Status{Seq: 7, Epoch: "e", Backend: "inotify"},
		FSStatus:   FSStatus{OpenWriters: 1, WriteInterval: "1s"},
		Underneath: &kqshim.Stats{Backend: "inotify", Detail: kqshim.InotifyStats{Watches: 3}},
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	under, _ := m["underneath"].(map[string]any)
	if m["seq"] != 7.0 || m["epoch"] != "e" || m["backend"] != "inotify" || m["open_writers"] != 1.0 ||
		m["write_interval"] != "1s" || under["watches"] != 3.0 || under["backend"] != "inotify" {
		t.Errorf("status JSON: %s", b)
	}
	st.Underneath = nil
	var bare map[string]any
	if b, _ := json.Marshal(st); json.Unmarshal(b, &bare) != nil || bare["underneath"] != nil {
		t.Errorf("underneath without a watcher: %s", b)
	}
}
