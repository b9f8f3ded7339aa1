package main

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// TestRunStopMidBurst: a SIGTERM in the middle of a burst of creates, with pushes slowed down
// so that one is in flight, ends in a final flush that succeeds; the creates the first
// controller never saw are pushed by the next one. Git ends holding exactly the cluster.
func TestRunStopMidBurst(t *testing.T) {
	const ns, total, stopAt = "live-burst-stop", 1500, 500
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	remote.SlowPushes(t, 300*time.Millisecond)
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n"))
	apply(t, c, watchRule(ns, "cms", "git", "configmaps"))
	first := startController(t, "--resync-interval=0")
	eventually(t, 30*time.Second, "backfill", func() (bool, string) { return remote.Head(t, "main") != "", "no branch yet" })

	dyn, err := kubetest.Unthrottled(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var created atomic.Int64
	burstDone := make(chan error, 1)
	go func() { burstDone <- createConfigMaps(dyn, ns, total, &created) }()
	eventually(t, time.Minute, "the burst under way", func() (bool, string) {
		return created.Load() >= stopAt, fmt.Sprint(created.Load(), " created")
	})
	first.stop(t) // fails the test when the final flush fails
	t.Logf("files after the final flush: %d of %d being created", len(remote.Files(t, "main")), total)
	if err := <-burstDone; err != nil {
		t.Fatal(err)
	}

	startController(t, "--resync-interval=0")
	eventually(t, time.Minute, "every ConfigMap in Git", func() (bool, string) {
		n := len(remote.Files(t, "main"))
		return n == total, fmt.Sprintf("%d files, want %d", n, total)
	})
	remote.Fsck(t)
}

// createConfigMaps creates n ConfigMaps in ns from 16 parallel writers, counting them.
func createConfigMaps(dyn dynamic.Interface, ns string, n int, created *atomic.Int64) error {
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	err := kubetest.Parallel(16, n, func(i int) error {
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%04d", i), "namespace": ns},
			"data":     map[string]any{"i": fmt.Sprint(i)},
		}}
		if _, err := dyn.Resource(gvr).Namespace(ns).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
			return err
		}
		created.Add(1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("create ConfigMaps: %w", err)
	}
	return nil
}
