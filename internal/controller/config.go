package controller

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
)

var crds = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// config is the controller's configuration as its informers see it.
type config struct {
	// source reads the three kinds from the informers' caches: a refresh lists nothing.
	source destination.ConfigSource
	stop   func()
}

// watchConfig runs informers on GitDestinations, WatchRules, ClusterWatchRules and CRDs, and
// calls trigger whenever one changes, so rules and CRDs take effect at once rather than at the
// next discovery interval. It returns once their caches have synced.
func watchConfig(ctx context.Context, dyn dynamic.Interface, trigger func()) (*config, error) {
	ctx, cancel := context.WithCancel(ctx)
	f := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	stop := func() { cancel(); f.Shutdown() }
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { trigger() },
		UpdateFunc: func(oldObj, newObj any) { triggerOnSpec(oldObj, newObj, trigger) },
		DeleteFunc: func(any) { trigger() },
	}
	kinds := []schema.GroupVersionResource{v1alpha1.GitDestinations, v1alpha1.WatchRules, v1alpha1.ClusterWatchRules}
	for _, gvr := range append(kinds, crds) {
		if _, err := f.ForResource(gvr).Informer().AddEventHandler(handler); err != nil {
			stop()
			return nil, fmt.Errorf("watch %s: %w", gvr.Resource, err)
		}
	}
	f.Start(ctx.Done())
	sctx, scancel := context.WithTimeout(ctx, time.Minute)
	defer scancel()
	for gvr, ok := range f.WaitForCacheSync(sctx.Done()) {
		if !ok {
			stop()
			return nil, fmt.Errorf("watch %s: cache did not sync (are the CRDs installed?)", gvr.Resource)
		}
	}
	source := func(context.Context) (*destination.Config, error) {
		var items [3][]unstructured.Unstructured
		for i, gvr := range kinds {
			objs, err := f.ForResource(gvr).Lister().List(labels.Everything())
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", gvr.Resource, err)
			}
			for _, o := range objs {
				if u, ok := o.(*unstructured.Unstructured); ok {
					items[i] = append(items[i], *u)
				}
			}
		}
		return destination.Decode(items[0], items[1], items[2])
	}
	return &config{source: source, stop: stop}, nil
}

// triggerOnSpec ignores updates that only touch status (our own status writes) or nothing.
func triggerOnSpec(oldObj, newObj any, trigger func()) {
	o, ok1 := oldObj.(interface{ GetGeneration() int64 })
	n, ok2 := newObj.(interface{ GetGeneration() int64 })
	if ok1 && ok2 && o.GetGeneration() == n.GetGeneration() {
		// Labels and annotations do not change what is watched, except a request for a resync;
		// CRD status (Established) does.
		if !isCRD(newObj) && requestedAt(oldObj) == requestedAt(newObj) {
			return
		}
	}
	trigger()
}

func requestedAt(obj any) string {
	u, ok := obj.(interface{ GetAnnotations() map[string]string })
	if !ok {
		return ""
	}
	return u.GetAnnotations()[v1alpha1.ReconcileRequestAnnotation]
}

func isCRD(obj any) bool {
	u, ok := obj.(interface{ GetKind() string })
	return ok && u.GetKind() == "CustomResourceDefinition"
}
