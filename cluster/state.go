package cluster

// The files beside the journal that make publishing and applying
// exactly once across restarts.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/notifyfs/notifyfs/event"
)

const (
	// publishedFile holds EPOCH:SEQ, the last local seq JetStream
	// acknowledged (every earlier one too, or skipped as not ours).
	publishedFile = "cluster-published"
	// appliedFile holds "STREAMSEQ EPOCH:SEQ": the last stream sequence
	// applied to the local bus, and the local seq the bus had then.
	appliedFile = "cluster-applied"
)

// stateFile is one small file rewritten whole by rename, so that a crash
// leaves the old content or the new, never a torn one. It is not fsynced
// on every write: what a machine crash takes back is re-sent (the stream
// drops it as a duplicate) or recognised in the journal on restart.
type stateFile struct {
	path string // "" = no journal: nothing is kept
	last string
}

func (f *stateFile) read() (string, error) {
	if f.path == "" {
		return "", nil
	}
	b, err := os.ReadFile(f.path)
	if os.IsNotExist(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cluster: %w", err)
	}
	f.last = strings.TrimSpace(string(b))
	return f.last, nil
}

func (f *stateFile) write(s string) error {
	if f.path == "" || s == f.last {
		return nil
	}
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s+"\n"), 0o600); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	f.last = s
	return nil
}

func newStateFile(dir, name string) *stateFile {
	if dir == "" {
		return &stateFile{}
	}
	return &stateFile{path: filepath.Join(dir, name)}
}

// applied is what appliedFile records.
type applied struct {
	stream uint64       // last stream sequence applied
	local  event.Cursor // the bus's position right after it was applied
}

func (a applied) String() string {
	return strconv.FormatUint(a.stream, 10) + " " + a.local.String()
}

func parseApplied(s string) (applied, error) {
	if s == "" {
		return applied{}, nil
	}
	n, c, ok := strings.Cut(s, " ")
	seq, err := strconv.ParseUint(n, 10, 64)
	if !ok || err != nil {
		return applied{}, fmt.Errorf("cluster: %s: bad content %q", appliedFile, s)
	}
	cur, err := event.ParseCursor(c)
	if err != nil {
		return applied{}, fmt.Errorf("cluster: %s: %w", appliedFile, err)
	}
	return applied{stream: seq, local: cur}, nil
}
