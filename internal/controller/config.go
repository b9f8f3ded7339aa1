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
	"github.com/gitops-reverser/gitops-reverser/internal/cluster"
	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
)

// config is the controller's configuration as its informers see it.
type config struct {
	// source reads the three kinds from the informers' caches: a refresh lists nothing.
	source destination.ConfigSource
	stop   func()
}

// crdHook keeps the CRDs' schemas for the Clean files' defaulting, and calls changed with
// the resource of a CRD whose spec changed.
type crdHook struct {
	schemas *defaulting.Schemas
	changed func(schema.GroupResource)
}

// watchConfig runs informers on GitDestinations, WatchRules, ClusterWatchRules and CRDs, and
// calls trigger whenever one changes, so rules and CRDs take effect at once rather than at the
// next discovery interval. It returns once their caches have synced.
func watchConfig(ctx context.Context, dyn dynamic.Interface, trigger func(), hook crdHook) (*config, error) {
	ctx, cancel := context.WithCancel(ctx)
	f := dynamicinformer.NewDynamicSharedInformerFactory(dyn, 0)
	stop := func() { cancel(); f.Shutdown() }
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { trigger() },
		UpdateFunc: func(oldObj, newObj any) { triggerOnSpec(oldObj, newObj, trigger) },
		DeleteFunc: func(any) { trigger() },
	}
	kinds := []schema.GroupVersionResource{v1alpha1.GitDestinations, v1alpha1.WatchRules, v1alpha1.ClusterWatchRules}
	for _, gvr := range kinds {
		if _, err := f.ForResource(gvr).Informer().AddEventHandler(handler); err != nil {
			stop()
			return nil, fmt.Errorf("watch %s: %w", gvr.Resource, err)
		}
	}
	// The schemas are set before the refresh this event triggers starts the CRD's informers.
	if _, err := f.ForResource(cluster.CRDs).Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { hook.set(obj); trigger() },
		UpdateFunc: func(oldObj, newObj any) {
			if !sameGeneration(oldObj, newObj) { // its spec, the schemas among it, changed
				hook.set(newObj)
				if hook.changed != nil {
					hook.changed(crdResource(newObj))
				}
			}
			trigger() // a status change (Established) matters too
		},
		DeleteFunc: func(obj any) { hook.delete(obj); trigger() },
	}); err != nil {
		stop()
		return nil, fmt.Errorf("watch %s: %w", cluster.CRDs.Resource, err)
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
	// Labels and annotations do not change what is watched, except a request for a resync.
	if sameGeneration(oldObj, newObj) && requestedAt(oldObj) == requestedAt(newObj) {
		return
	}
	trigger()
}

// sameGeneration reports whether two versions of an object have one generation: their spec
// is the same.
func sameGeneration(oldObj, newObj any) bool {
	o, ok1 := oldObj.(interface{ GetGeneration() int64 })
	n, ok2 := newObj.(interface{ GetGeneration() int64 })
	return ok1 && ok2 && o.GetGeneration() == n.GetGeneration()
}

func requestedAt(obj any) string {
	u, ok := obj.(interface{ GetAnnotations() map[string]string })
	if !ok {
		return ""
	}
	return u.GetAnnotations()[v1alpha1.ReconcileRequestAnnotation]
}

func (h crdHook) set(obj any) {
	if u, ok := obj.(*unstructured.Unstructured); ok && h.schemas != nil {
		_ = h.schemas.SetUnstructured(u) // a schema that cannot be read keeps its defaults written
	}
}

func (h crdHook) delete(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if u, ok := obj.(*unstructured.Unstructured); ok && h.schemas != nil {
		h.schemas.Delete(u.GetName())
	}
}

// crdResource is the resource a CRD serves.
func crdResource(obj any) schema.GroupResource {
	u, _ := obj.(*unstructured.Unstructured)
	if u == nil {
		return schema.GroupResource{}
	}
	group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
	return schema.GroupResource{Group: group, Resource: plural}
}
