package gitfsmonitor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// tokenPrefix tells our tokens from git's first-query timestamp and
// from other hooks' tokens.
const tokenPrefix = "notifyfs:"

// token is a parsed token: a cursor and the daemon run it belongs to.
type token struct {
	epoch string
	seq   uint64
	run   string
}

func (t token) String() string {
	return tokenPrefix + t.epoch + ":" + strconv.FormatUint(t.seq, 10) + ":" + t.run
}

// parseToken reads a token; ok is false for anything that is not ours.
func parseToken(s string) (t token, ok bool) {
	rest, found := strings.CutPrefix(s, tokenPrefix)
	if !found {
		return token{}, false
	}
	parts := strings.SplitN(rest, ":", 3)
	if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
		return token{}, false
	}
	seq, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return token{}, false
	}
	return token{epoch: parts[0], seq: seq, run: parts[2]}, true
}

// runID names one run of the daemon: its pid and, where /proc shows it,
// the process's start time, so that a new daemon that happens to get the
// same pid is still told apart.
func runID(pid int) string {
	id := strconv.Itoa(pid)
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return id
	}
	// Field 22 (starttime) counts from the field after the command,
	// which is in parentheses and may hold spaces.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		if f := strings.Fields(s[i+1:]); len(f) > 19 {
			return id + "." + f[19]
		}
	}
	return id
}
