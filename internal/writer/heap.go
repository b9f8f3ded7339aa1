package writer

import (
	"runtime/debug"
	"sync"
)

// resyncGCPercent is the GC target while a resync runs. A resync holds every desired path of
// its destination for a moment (hashes, the changeset, the trees): tens of MiB at 100,000
// objects on top of the caches. With the usual target the heap may grow by half or all of
// what is live before the GC collects, which would make the first resync the process's peak.
const resyncGCPercent = 20

// heap counts the resyncs running, so that the GC target is set by the first and put back by
// the last: it is the process's.
var heap struct {
	sync.Mutex
	running int
	saved   int
}

// tightHeap makes the GC collect sooner until release is called.
func tightHeap() (release func()) {
	heap.Lock()
	defer heap.Unlock()
	if heap.running == 0 {
		heap.saved = debug.SetGCPercent(resyncGCPercent)
	}
	heap.running++
	return func() {
		heap.Lock()
		defer heap.Unlock()
		if heap.running--; heap.running == 0 {
			debug.SetGCPercent(heap.saved)
		}
	}
}
