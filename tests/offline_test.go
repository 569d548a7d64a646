//go:build linux

package tests

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/notifyfs/notifyfs/eventbus"
	"github.com/notifyfs/notifyfs/kqshim"
)

// mountCursor is the mount's latest position, after a sync.
func mountCursor(t *testing.T, mnt string) eventbus.Cursor {
	t.Helper()
	mustRun(t, "sync", mnt)
	var st struct {
		Seq   uint64 `json:"seq"`
		Epoch string `json:"epoch"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "status", "--format", "json", mnt)), &st); err != nil {
		t.Fatal(err)
	}
	return eventbus.Cursor{Epoch: st.Epoch, Seq: st.Seq}
}

// Changes of every type made on SOURCE while no daemon ran — after a
// clean umount, and after the daemon was killed with -9 before it could
// write its last index — reach a subscriber resuming from its cursor
// exactly once, typed, origin backing, offline, and before anything
// new.
func TestBinaryOfflineChanges(t *testing.T) {
	for _, how := range []string{"unmounted", "killed"} {
		t.Run(how, func(t *testing.T) {
			// A long index interval: when killed, the index on disk is
			// the one written at start-up, and the journal's events
			// after it must not come back as offline changes.
			src, mnt := binMount(t, "--journal-sync", "always", "--index-interval", "1h")
			journal := filepath.Join(filepath.Dir(src), "journal")
			m := func(p string) string { return filepath.Join(mnt, p) }
			s := func(p string) string { return filepath.Join(src, p) }
			for _, f := range []string{"edit", "trunc", "mode", "own", "gone", "mvfrom", "linksrc", "gonedir/x"} {
				os.MkdirAll(filepath.Dir(m(f)), 0o755)
				if err := os.WriteFile(m(f), []byte("abc"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cursor := mountCursor(t, mnt)

			if how == "killed" {
				pid := daemonPid(t, mnt)
				syscall.Kill(pid, syscall.SIGKILL)
				waitGone(t, pid)
			}
			mustRun(t, "umount", mnt)

			f, _ := os.OpenFile(s("edit"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString("more")
			f.Close()
			must(t, os.Truncate(s("trunc"), 1))
			must(t, os.Chmod(s("mode"), 0o600))
			must(t, os.Chown(s("own"), 1234, 1234))
			must(t, os.Remove(s("gone")))
			must(t, os.RemoveAll(s("gonedir")))
			must(t, os.Rename(s("mvfrom"), s("mvto")))
			must(t, os.WriteFile(s("new"), nil, 0o644))
			must(t, os.Mkdir(s("newdir"), 0o755))
			must(t, os.Symlink("target", s("sym")))
			must(t, os.Link(s("linksrc"), s("linkdst")))

			mustRun(t, "mount", "--journal", journal, "--index-interval", "1h", src, mnt)
			must(t, os.WriteFile(m("after"), nil, 0o644)) // new: must come after the offline ones

			var got []string
			sawNew := false
			for _, e := range resumeUpToSync(t, mnt, cursor) {
				if e.Path == "after" {
					sawNew = true
					continue
				}
				if sawNew {
					t.Errorf("offline event after a new one: %+v", e)
				}
				if !e.Offline || e.Origin != eventbus.OriginBacking {
					t.Errorf("not an offline backing event: %+v", e)
				}
				line := e.Type.String() + " " + e.Path
				if e.From != "" {
					line += " <- " + e.From
				}
				got = append(got, line)
			}
			sort.Strings(got)
			want := []string{
				"chmod mode", "chown own", "create new", "link linkdst <- linksrc", "mkdir newdir",
				"remove gone", "remove gonedir/x", "rename mvto <- mvfrom", "rmdir gonedir",
				"symlink sym", "truncate trunc", "write edit",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("resumed:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if !sawNew {
				t.Error("the change made after the mount was not delivered")
			}
		})
	}
}

// No usable index (damaged here) is a rescan of the root, so that a
// resuming subscriber knows it must read the tree again.
func TestBinaryOfflineIndexDamaged(t *testing.T) {
	src, mnt := binMount(t)
	journal := filepath.Join(filepath.Dir(src), "journal")
	cursor := mountCursor(t, mnt)
	mustRun(t, "umount", mnt)
	idx := filepath.Join(journal, kqshim.IndexFile)
	b, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	must(t, os.WriteFile(idx, b, 0o600))
	must(t, os.WriteFile(filepath.Join(src, "x"), nil, 0o644))

	mustRun(t, "mount", "--journal", journal, src, mnt)
	evs := resumeUpToSync(t, mnt, cursor)
	if len(evs) != 1 || evs[0].Type != eventbus.Rescan || evs[0].Path != "" || !evs[0].Offline {
		t.Errorf("want one offline rescan of the root, got %+v", evs)
	}
	var st struct {
		Index *kqshim.IndexStats `json:"index"`
	}
	json.Unmarshal([]byte(mustRun(t, "status", "--format", "json", mnt)), &st)
	if st.Index == nil || st.Index.Start.Usable || !strings.Contains(st.Index.Start.Reason, "checksum") {
		t.Errorf("status index: %+v", st.Index)
	}
}
