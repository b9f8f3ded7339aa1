package kubetest

import (
	"sync"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

// Parallel calls do for every index from 0 to n from workers goroutines, as many clients
// writing at once do, and returns the first error once all calls are done.
func Parallel(workers, n int, do func(i int) error) error {
	jobs := make(chan int)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				if err := do(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return first
}

// Unthrottled is a dynamic client of cfg without client-side rate limits, for filling a
// cluster quickly.
func Unthrottled(cfg *rest.Config) (dynamic.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.QPS, c.Burst = -1, 0
	return dynamic.NewForConfig(c)
}
