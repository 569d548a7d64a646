// Package journals lists and prunes the journals notifyfs keeps in its
// state directory (`notifyfs journals`): one per (SOURCE, MOUNTPOINT)
// pair, named journal-KEY, with an "origin" file naming the pair. A
// journal a running daemon holds is never pruned.
package journals

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/notifyfs/notifyfs/eventbus"
)

// OriginFile is the file in a journal directory that names the mount it
// belongs to: SOURCE and MOUNTPOINT, one line each. The daemon writes it.
const OriginFile = "origin"

// WriteOrigin records which mount a journal belongs to.
func WriteOrigin(dir, source, mnt string) error {
	return os.WriteFile(filepath.Join(dir, OriginFile), []byte(source+"\n"+mnt+"\n"), 0o600)
}

// Journal describes one journal directory.
type Journal struct {
	Dir           string
	Source, Mount string // "" when the origin is not recorded
	Bytes         int64
	Segments      int
	LastWrite     time.Time // of the newest file
	InUse         bool      // a daemon holds it
}

// List returns the journals under stateDir, newest first.
func List(stateDir string) ([]Journal, error) {
	entries, err := os.ReadDir(stateDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Journal
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "journal-") {
			continue
		}
		j, err := read(filepath.Join(stateDir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].LastWrite.After(out[b].LastWrite) })
	return out, nil
}

func read(dir string) (Journal, error) {
	j := Journal{Dir: dir}
	files, err := os.ReadDir(dir)
	if err != nil {
		return j, err
	}
	for _, f := range files {
		fi, err := f.Info()
		if err != nil {
			continue // removed meanwhile
		}
		if fi.ModTime().After(j.LastWrite) {
			j.LastWrite = fi.ModTime()
		}
		if strings.HasSuffix(f.Name(), ".seg") {
			j.Segments++
			j.Bytes += fi.Size()
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, OriginFile)); err == nil {
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) == 2 {
			j.Source, j.Mount = lines[0], lines[1]
		}
	}
	if j.InUse, err = eventbus.JournalInUse(dir); err != nil {
		return j, fmt.Errorf("%s: %w", dir, err)
	}
	return j, nil
}

// Prune removes the journals under stateDir that no daemon holds and
// that were last written before now-olderThan, and returns them; with
// dryRun it only returns them. A removed journal's mount starts a new
// epoch when it is mounted again: its subscribers' cursors get a reset.
func Prune(stateDir string, olderThan time.Duration, dryRun bool) ([]Journal, error) {
	all, err := List(stateDir)
	if err != nil {
		return nil, err
	}
	cutoff := time.Now().Add(-olderThan)
	var pruned []Journal
	for _, j := range all {
		if j.InUse || j.LastWrite.After(cutoff) {
			continue
		}
		if !dryRun {
			if err := os.RemoveAll(j.Dir); err != nil {
				return pruned, err
			}
		}
		pruned = append(pruned, j)
	}
	return pruned, nil
}
