package controller

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// errLeadershipLost ends a run whose Lease was taken over; the process restarts as a candidate.
var errLeadershipLost = errors.New("leader election lost")

// leaderElect runs work only while this process holds the Lease, so a rolling update never has
// two writers. When ctx ends, work flushes first and the Lease is released after, so the next
// leader starts from a pushed state without waiting for the Lease to expire.
func leaderElect(ctx context.Context, o Options, log *slog.Logger, kube kubernetes.Interface, work func(context.Context) error) error {
	id := o.Identity
	if id == "" {
		// Unique per process, as two processes on one host must not share the Lease.
		id = hostname() + "_" + rand.Text()[:8]
	}
	// The elector runs on its own context, cancelled only once work has flushed.
	electCtx, electCancel := context.WithCancel(context.Background())
	defer electCancel()
	var (
		started atomic.Bool
		workErr error
		done    = make(chan struct{})
	)
	stopWaiting := context.AfterFunc(ctx, func() {
		if !started.Load() {
			electCancel() // still a candidate: stop trying
		}
	})
	defer stopWaiting()
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: o.Namespace, Name: o.LeaderElectionID},
			Client:     kube.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		},
		LeaseDuration:   15 * time.Second,
		RenewDeadline:   10 * time.Second,
		RetryPeriod:     2 * time.Second,
		ReleaseOnCancel: true,
		Name:            o.LeaderElectionID,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(leading context.Context) {
				started.Store(true)
				defer close(done)
				log.Info("leading", "identity", id)
				wctx, cancel := context.WithCancel(leading)
				defer cancel()
				stop := context.AfterFunc(ctx, cancel)
				defer stop()
				workErr = work(wctx)
				electCancel() // flushed: release the Lease
			},
			OnStoppedLeading: func() { log.Info("leadership ended", "identity", id) },
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	le.Run(electCtx)
	if !started.Load() {
		return nil
	}
	<-done
	if ctx.Err() == nil && workErr == nil {
		return errLeadershipLost
	}
	return workErr
}
