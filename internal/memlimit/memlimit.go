package memlimit

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
)

// Options says what the limit is made of.
type Options struct {
	// Budget is the memory budget of the budgeted holding (the ring).
	Budget int64
	// Headroom is what the collector may allocate into beyond what is
	// live and the budget: the runtime, buffers, garbage between cycles.
	Headroom int64
	// Held reports what the budgeted holding holds now (bytes).
	Held func() int64
}

// Keeper adjusts the limit after every garbage collection until Stop.
type Keeper struct {
	o       Options
	stopped atomic.Bool
	mu      sync.Mutex // one update at a time
	sample  []metrics.Sample
	limit   atomic.Int64
}

// liveMetric is the heap that survived the last collection.
const liveMetric = "/gc/heap/live:bytes"

// Start sets the limit now and keeps it up to date.
func Start(o Options) *Keeper {
	k := &Keeper{o: o, sample: []metrics.Sample{{Name: liveMetric}}}
	k.update()
	k.arm()
	return k
}

// sentinel is collected by every garbage collection (nothing refers to
// it): its cleanup is the hook that runs after each one. It holds a
// pointer and is larger than 16 bytes so that the runtime's tiny
// allocator never packs it with other objects that could keep it alive.
type sentinel struct {
	_ *int
	_ [24]byte
}

func (k *Keeper) arm() {
	runtime.AddCleanup(new(sentinel), func(k *Keeper) {
		if k.stopped.Load() {
			return
		}
		k.update()
		k.arm()
	}, k)
}

// Limit is the limit last set.
func (k *Keeper) Limit() int64 { return k.limit.Load() }

// update sets the limit from the heap live after the last collection.
func (k *Keeper) update() {
	k.mu.Lock()
	defer k.mu.Unlock()
	metrics.Read(k.sample)
	var live int64
	if k.sample[0].Value.Kind() == metrics.KindUint64 {
		live = int64(k.sample[0].Value.Uint64())
	}
	k.limit.Store(Limit(live, k.o.Held(), k.o.Budget, k.o.Headroom))
	debug.SetMemoryLimit(k.limit.Load())
}

// Limit is the soft memory limit for a heap of live bytes of which held
// belong to the budgeted holding: the rest of what is live, the budget
// (whether the holding has filled it yet or not) and the headroom.
func Limit(live, held, budget, headroom int64) int64 {
	other := max(live-held, 0)
	return other + budget + headroom
}

// Stop stops adjusting; the limit last set stays.
func (k *Keeper) Stop() { k.stopped.Store(true) }
