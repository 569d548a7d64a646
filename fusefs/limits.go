package fusefs

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// descriptorLimit raises the descriptor limit as far as the system lets
// the daemon (as root, to fs.nr_open, at most 1M; otherwise to the hard
// limit, which Go already does at start) and returns it. Descriptors are
// the daemon's scarcest resource: every open handle holds one, and
// directory pins take a bounded share.
func descriptorLimit() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	cur, hard := uint64(lim.Cur), uint64(lim.Max)
	want := hard
	if IsRoot() {
		if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && n > want {
				want = min(n, 1<<20)
			}
		}
	}
	if want > cur {
		raised := lim
		setRlimit(&raised, want, max(want, hard))
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) != nil {
			raised = lim
			setRlimit(&raised, hard, hard)
			syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised)
		}
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return int(min(uint64(lim.Cur), 1<<30))
}

// handleBudget caps the open handles of each user other than root, so
// that one user opening files without end runs out alone (EMFILE) and
// the daemon keeps descriptors for everyone else.
type handleBudget struct {
	mu    sync.Mutex
	max   int
	byUID map[uint32]int
}

// take reserves a handle for uid; false when uid has its share open.
func (b *handleBudget) take(uid uint32) bool {
	if uid == 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byUID == nil {
		b.byUID = make(map[uint32]int)
	}
	if b.byUID[uid] >= b.max {
		return false
	}
	b.byUID[uid]++
	return true
}

// give returns a handle reserved by take.
func (b *handleBudget) give(uid uint32) {
	if uid == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.byUID[uid]--; b.byUID[uid] <= 0 {
		delete(b.byUID, uid)
	}
}

// users reports the handles open per user (by uid, as a string for the
// status object).
func (b *handleBudget) users() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int, len(b.byUID))
	for uid, n := range b.byUID {
		out[strconv.FormatUint(uint64(uid), 10)] = n
	}
	return out
}
