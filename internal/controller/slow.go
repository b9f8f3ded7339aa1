package controller

import (
	"sync"

	"k8s.io/client-go/util/workqueue"

	"github.com/gitops-reverser/gitops-reverser/internal/writer"
)

// slowQueue takes work that is too slow for an informer's goroutine (encrypting a Secret) to
// its own workers, keyed by destination and path, as client-go's workqueue does for
// controllers: a key is handled by one worker at a time and queued once however often it
// changes, so a path's events are never reordered, and only its latest event is delivered
// (as the writer's pending changes would keep only the latest anyway).
type slowQueue struct {
	q    workqueue.TypedInterface[slowKey]
	mu   sync.Mutex
	next map[slowKey]delivery // guarded by mu: the latest delivery of each queued key
}

type slowKey struct {
	w    *writer.Writer
	path string
}

func newSlowQueue() *slowQueue {
	return &slowQueue{q: workqueue.NewTyped[slowKey](), next: map[slowKey]delivery{}}
}

// add queues d under k, replacing an older delivery of k not yet handled.
func (s *slowQueue) add(k slowKey, d delivery) {
	s.mu.Lock()
	s.next[k] = d
	s.mu.Unlock()
	s.q.Add(k)
}

// start runs n workers calling fn; stop delivers everything queued, then joins them.
func (s *slowQueue) start(n int, fn func(delivery)) (stop func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				k, shutdown := s.q.Get()
				if shutdown {
					return
				}
				s.mu.Lock()
				d, ok := s.next[k]
				delete(s.next, k)
				s.mu.Unlock()
				if ok {
					fn(d)
				}
				s.q.Done(k)
			}
		})
	}
	return func() {
		s.q.ShutDownWithDrain()
		wg.Wait()
	}
}
