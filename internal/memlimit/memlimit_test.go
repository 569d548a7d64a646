package memlimit

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"unsafe"
)

func TestLimit(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct{ live, held, budget, headroom, want int64 }{
		{10 * mib, 0, 64 * mib, 48 * mib, 122 * mib},         // fresh daemon: room for the whole ring
		{74 * mib, 64 * mib, 64 * mib, 48 * mib, 122 * mib},  // full ring, small rest: the fixed limit
		{150 * mib, 64 * mib, 64 * mib, 48 * mib, 198 * mib}, // full ring and a large tree: follows the tree
		{30 * mib, 40 * mib, 64 * mib, 48 * mib, 112 * mib},  // ring estimate above live: never below budget+headroom
	} {
		if got := Limit(c.live, c.held, c.budget, c.headroom); got != c.want {
			t.Errorf("Limit(%d, %d, %d, %d) = %d MiB, want %d MiB", c.live/mib, c.held/mib, c.budget/mib, c.headroom/mib, got/mib, c.want/mib)
		}
	}
}

var sink []byte

type node struct {
	next *node
	_    [56]byte
}

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// churn allocates total bytes of garbage in small pieces, as a daemon
// serving requests does, and returns how many collections that took.
func churn(total int) uint64 {
	before := gcCycles()
	for n := 0; n < total; n += 32 << 10 {
		sink = make([]byte, 32<<10)
	}
	sink = nil
	return gcCycles() - before
}

// TestNoSpinWhenLiveOutgrowsBudget is the finding: with the limit fixed
// at the ring's budget plus headroom, a daemon whose other live data
// (go-fuse's nodes of a large tree) outgrew it collected back to back.
// With the keeper, collections come once per headroom allocated.
func TestNoSpinWhenLiveOutgrowsBudget(t *testing.T) {
	const mib = 1 << 20
	defer debug.SetMemoryLimit(math.MaxInt64)
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	// About 96 MiB live outside the ring, in small objects that point
	// at each other, as go-fuse's nodes of a large tree.
	const liveMiB = 96
	var ballast *node
	for i := 0; i < liveMiB*mib/int(unsafe.Sizeof(node{})); i++ {
		ballast = &node{next: ballast}
	}
	runtime.GC()
	const budget, headroom, garbage = 8 * mib, 32 * mib, 512 * mib

	debug.SetMemoryLimit(budget + headroom) // the fixed limit, as before
	fixed := churn(garbage)

	k := Start(Options{Budget: budget, Headroom: headroom, Held: func() int64 { return 0 }})
	defer k.Stop()
	runtime.GC() // the keeper's first look after a collection
	kept := churn(garbage)
	runtime.KeepAlive(ballast)
	t.Logf("collections while allocating %d MiB with %d MiB live: fixed limit %d, keeper %d (limit %d MiB)",
		garbage/mib, liveMiB, fixed, kept, k.Limit()/mib)
	if k.Limit() < liveMiB*mib+headroom {
		t.Errorf("limit %d MiB is under what is live (%d MiB) plus the headroom", k.Limit()/mib, liveMiB)
	}
	// One collection per headroom allocated, and some slack for the
	// runtime's own pacing.
	if max := uint64(garbage/headroom) * 2; kept > max {
		t.Errorf("%d collections while allocating %d MiB with a %d MiB headroom, want at most %d (the fixed limit took %d)",
			kept, garbage/mib, headroom/mib, max, fixed)
	}
}
