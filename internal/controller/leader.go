package controller

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// leaderElect runs work only while this process holds the Lease, so a rolling update never has
// two writers. It returns when ctx ends (after work returned) or when leadership is lost.
func leaderElect(ctx context.Context, o Options, work func(context.Context) error) error {
	kube, err := kubernetes.NewForConfig(o.Config)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	id := o.Identity
	if id == "" {
		id = hostname()
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: o.Namespace, Name: o.LeaderElectionID},
		Client:     kube.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	var (
		workErr error
		done    = make(chan struct{})
		started atomic.Bool
	)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          lock,
		LeaseDuration: 15 * time.Second,
		RenewDeadline: 10 * time.Second,
		RetryPeriod:   2 * time.Second,
		// Not ReleaseOnCancel: the lease must outlive the final flush, so it simply expires.
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				started.Store(true)
				slog.Info("leading", "identity", id)
				defer close(done)
				workErr = work(ctx)
			},
			OnStoppedLeading: func() { slog.Info("leadership ended", "identity", id) },
		},
		Name: o.LeaderElectionID,
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	le.Run(ctx)
	if started.Load() {
		<-done // the final flush
	}
	if ctx.Err() == nil {
		return fmt.Errorf("leader election lost")
	}
	return workErr
}
