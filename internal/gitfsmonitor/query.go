package gitfsmonitor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"time"

	"github.com/notifyfs/notifyfs/event"
	"github.com/notifyfs/notifyfs/internal/relpath"
	"github.com/notifyfs/notifyfs/subscribers/wire"
)

// Answer is the reply to one query.
type Answer struct {
	// Token is the token git passes next time.
	Token string
	// Everything says all paths may have changed (written as "/").
	Everything bool
	// Paths changed since the old token, relative to the worktree,
	// sorted; a directory's ends in "/" (it and everything beneath it).
	Paths []string
}

// WriteTo writes the answer as git reads it: the token, then each path,
// every one NUL-terminated.
func (a *Answer) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	bw.WriteString(a.Token)
	bw.WriteByte(0)
	if a.Everything {
		bw.WriteString("/\x00")
	} else {
		for _, p := range a.Paths {
			bw.WriteString(p)
			bw.WriteByte(0)
		}
	}
	n := bw.Buffered()
	return int64(n), bw.Flush()
}

// Query answers git's query with oldToken for the worktree at the mount
// path worktree ("" = the mount's root), asking the daemon at socket.
func Query(ctx context.Context, socket, worktree, oldToken string) (*Answer, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	// A plain conversation on the socket rather than the Go client: the
	// answer must hold exactly the events up to the sync barrier, and
	// here the barrier's reply is simply the line after the last of them.
	br := bufio.NewReaderSize(nc, 64<<10)
	var hello wire.HelloMsg
	hello.Hello = &wire.Hello{}
	if err := readJSON(br, &hello); err != nil {
		return nil, fmt.Errorf("reading hello: %w", err)
	}
	if !hello.OK {
		return nil, fmt.Errorf("refused: %s", hello.Error)
	}
	run := runID(hello.Pid)
	old, ours := parseToken(oldToken)
	resume := ours && old.epoch == hello.Epoch && old.run == run && old.seq <= hello.Seq

	var req []byte
	if resume {
		sub := map[string]any{"id": 1, "op": "subscribe", "name": "git fsmonitor",
			"since": map[string]any{"epoch": old.epoch, "seq": old.seq}}
		// No "paths" filter: the rename of a directory above the
		// worktree names no path inside it, and must be seen.
		sub["excludes"] = []string{relpath.Join(worktree, ".git")}
		b, _ := json.Marshal(sub)
		req = append(b, '\n')
	}
	req = append(req, `{"id":2,"op":"sync"}`+"\n"...)
	if _, err := nc.Write(req); err != nil {
		return nil, err
	}

	ans := &Answer{Everything: !resume}
	paths := map[string]bool{}
	epoch := hello.Epoch
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("reading the stream: %w", err)
		}
		var head struct {
			Op    *string `json:"op"`
			OK    bool    `json:"ok"`
			Error string  `json:"error"`
			Seq   uint64  `json:"seq"`
			Epoch string  `json:"epoch"`
		}
		if err := json.Unmarshal(line, &head); err != nil {
			return nil, fmt.Errorf("bad line from the daemon: %w", err)
		}
		if head.Op != nil {
			if !head.OK {
				return nil, fmt.Errorf("%s: %s", *head.Op, head.Error)
			}
			if *head.Op == "subscribe" {
				epoch = head.Epoch
				continue
			}
			if *head.Op == "sync" {
				ans.Token = token{epoch: epoch, seq: head.Seq, run: run}.String()
				break
			}
			continue
		}
		if ans.Everything {
			continue // nothing more to learn; read on to the barrier
		}
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("bad event from the daemon: %w", err)
		}
		if e.Type == event.Reset {
			epoch = e.Epoch
		}
		if !addEvent(paths, worktree, &e) {
			ans.Everything = true
		}
	}
	if !ans.Everything {
		for p := range paths {
			ans.Paths = append(ans.Paths, p)
		}
		sort.Strings(ans.Paths)
	}
	return ans, nil
}

// addEvent adds the worktree paths e changed; false if e means that
// anything may have changed.
func addEvent(paths map[string]bool, worktree string, e *event.Event) bool {
	switch e.Type {
	case event.Overflow, event.Rescan, event.Reset:
		return false
	case event.Unmount, event.Open, event.Close:
		return true
	}
	names := []string{e.Path}
	if e.From != "" {
		names = append(names, e.From)
	}
	moved := e.Type == event.Rename || e.Type == event.Rmdir
	for _, p := range names {
		if moved && relpath.Under(worktree, p) {
			// The worktree itself, or a directory above it, was
			// renamed or removed: nothing git knows holds any more.
			return false
		}
		rel, ok := p, true
		if worktree != "" {
			rel, ok = relpath.Rel(worktree, p)
		}
		if !ok || rel == "" {
			// Outside the worktree, or the attributes of its own
			// directory, which are no file of git's.
			continue
		}
		if relpath.Under(rel, ".git") {
			continue
		}
		if e.IsDir && (moved || e.Type == event.Mkdir) {
			rel += "/" // the directory and everything beneath it
		}
		paths[rel] = true
	}
	return true
}

// readJSON reads one line and decodes it into v.
func readJSON(br *bufio.Reader, v any) error {
	line, err := br.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return json.Unmarshal(line, v)
}

// DefaultTimeout bounds a query: git waits for the hook, and a daemon
// that does not answer in time is better reported than waited on.
const DefaultTimeout = 60 * time.Second
