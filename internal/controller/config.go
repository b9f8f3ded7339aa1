package controller

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

var crds = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// watchConfig triggers a refresh whenever a GitDestination, WatchRule, ClusterWatchRule or CRD
// changes, so rules and CRDs take effect at once rather than at the next discovery interval.
func (mg *manager) watchConfig(ctx context.Context) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	f := dynamicinformer.NewDynamicSharedInformerFactory(mg.dyn, 0)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { mg.trigger() },
		UpdateFunc: func(oldObj, newObj any) { mg.triggerOnSpec(oldObj, newObj) },
		DeleteFunc: func(any) { mg.trigger() },
	}
	for _, gvr := range []schema.GroupVersionResource{v1alpha1.GitDestinations, v1alpha1.WatchRules, v1alpha1.ClusterWatchRules, crds} {
		inf := f.ForResource(gvr).Informer()
		if _, err := inf.AddEventHandler(handler); err != nil {
			cancel()
			return nil, fmt.Errorf("watch %s: %w", gvr.Resource, err)
		}
	}
	f.Start(ctx.Done())
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	for gvr, ok := range f.WaitForCacheSync(sctx.Done()) {
		if !ok {
			cancel()
			return nil, fmt.Errorf("watch %s: cache did not sync (are the CRDs installed?)", gvr.Resource)
		}
	}
	return func() { cancel(); f.Shutdown() }, nil
}

// triggerOnSpec ignores updates that only touch status (our own status writes) or nothing.
func (mg *manager) triggerOnSpec(oldObj, newObj any) {
	o, ok1 := oldObj.(interface{ GetGeneration() int64 })
	n, ok2 := newObj.(interface{ GetGeneration() int64 })
	if ok1 && ok2 && o.GetGeneration() == n.GetGeneration() {
		// Labels and annotations do not change what is watched; CRD status (Established) does.
		if !isCRD(newObj) {
			return
		}
	}
	mg.trigger()
}

func isCRD(obj any) bool {
	u, ok := obj.(interface{ GetKind() string })
	return ok && u.GetKind() == "CustomResourceDefinition"
}
