package discovery

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// ErrNotSynced means the informer of a resource is not running or has not finished its
// initial list: its cache says nothing about which objects exist, so callers keep that
// resource's files rather than treat it as empty.
var ErrNotSynced = errors.New("informer not running or not synced")

// Handler receives events of every informer. Calls come from informer goroutines, possibly
// concurrently for different GVRs; implementations must be quick and thread-safe. obj is the
// informer cache's value: read it, never modify it.
type Handler interface {
	OnEvent(res Resource, op change.Op, obj snapshot.Object)
}

// Informers keeps one dynamic informer per GVR, each started and stopped on its own: a
// shared informer factory cannot stop a single GVR.
//
// Lock order: mu is the only lock and is never held while calling the Handler or waiting on
// an informer, so a Handler may call Each, Synced, AllSynced, Running and Len. A Handler
// must not call Set or WaitSynced (they are the refresher's).
type Informers struct {
	client  dynamic.Interface
	handler Handler
	log     *slog.Logger
	wg      sync.WaitGroup // every informer goroutine started
	// defaulter renders the cached Clean files (snapshot.CompactWith); nil: no defaulting.
	defaulter *defaulting.Defaulter

	mu      sync.RWMutex
	entries map[schema.GroupVersionResource]*entry // guarded by mu
	parent  context.Context                        // of the last Set; Restart starts under it
}

// entry is one running informer. ctx ends when Set stops it or the parent context of the Set
// that started it ends; an entry whose ctx ended is not running, even while still in the map.
type entry struct {
	res      atomic.Pointer[Resource] // Set replaces it when Named or Kind change
	informer cache.SharedIndexInformer
	ctx      context.Context
	cancel   context.CancelFunc
}

func (e *entry) running() bool { return e.ctx.Err() == nil }

func (e *entry) synced() bool { return e.running() && e.informer.HasSynced() }

// NewInformers returns a manager with no informers running; Set starts them. Failed lists
// and watches are logged to log.
func NewInformers(log *slog.Logger, client dynamic.Interface, h Handler) *Informers {
	return &Informers{client: client, handler: h, log: log, entries: map[schema.GroupVersionResource]*entry{}}
}

// WithDefaulter makes the caches render Clean files with d's defaulting; call it before the
// first Set.
func (i *Informers) WithDefaulter(d *defaulting.Defaulter) *Informers {
	i.defaulter = d
	return i
}

// Restart lists the resources of gr (every resource, for nil) again from the start, so that
// their cached files are rendered anew: after their CRD's defaults or the server's version
// changed. Their caches are not synced until the list is done, which a resync sees as a list
// that failed (their files are kept).
func (i *Informers) Restart(gr *schema.GroupResource) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.parent == nil || i.parent.Err() != nil {
		return
	}
	for gvr, e := range i.entries {
		if (gr != nil && gvr.GroupResource() != *gr) || !e.running() {
			continue
		}
		e.cancel()
		i.entries[gvr] = i.start(i.parent, *e.res.Load())
	}
}

// Wait returns once every informer has stopped: after the context of the Sets that started
// them ended (Set starts nothing after that).
func (i *Informers) Wait() { i.wg.Wait() }

// Set makes the running informers equal to want: starts missing ones (under ctx, each with
// its own child context), stops ones no longer wanted (cancel + forget), keeps the rest
// untouched (no restart; a Resource whose Named/Kind changed only has its stored Resource
// updated). Returns the GVRs started and stopped, sorted. Once ctx has ended, every informer
// it started stops and Set does nothing.
//
// After Set returns, a stopped informer forwards no further events; a Handler call already
// in progress may still finish.
func (i *Informers) Set(ctx context.Context, want []Resource) (started, stopped []schema.GroupVersionResource) {
	if ctx.Err() != nil {
		return nil, nil
	}
	wanted := make(map[schema.GroupVersionResource]Resource, len(want))
	for _, r := range want {
		wanted[r.GVR] = r
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.parent = ctx
	for gvr, e := range i.entries {
		if _, ok := wanted[gvr]; ok && e.running() {
			continue
		}
		if e.running() {
			stopped = append(stopped, gvr)
		}
		e.cancel()
		delete(i.entries, gvr)
	}
	for gvr, r := range wanted {
		if e, ok := i.entries[gvr]; ok {
			e.res.Store(&r)
			continue
		}
		i.entries[gvr] = i.start(ctx, r)
		started = append(started, gvr)
	}
	slices.SortFunc(started, compareGVR)
	slices.SortFunc(stopped, compareGVR)
	return started, stopped
}

// start builds and runs the informer of one resource under a child context of ctx.
// Called with mu held; it does not block.
func (i *Informers) start(ctx context.Context, r Resource) *entry {
	e := &entry{informer: newInformer(i.client, r.GVR)}
	e.res.Store(&r)
	e.ctx, e.cancel = context.WithCancel(ctx)
	// None of these fail before the informer runs.
	_ = e.informer.SetTransform(i.strip)
	_ = e.informer.SetWatchErrorHandlerWithContext(watchErrorHandler(i.log, r.GVR))
	_, _ = e.informer.AddEventHandler(eventHandler(i.log, e, i.handler))
	i.wg.Go(func() {
		e.informer.RunWithContext(e.ctx)
		i.forget(e)
	})
	return e
}

// forget drops a stopped entry from the map, unless Set has already replaced it.
func (i *Informers) forget(e *entry) {
	gvr := e.res.Load().GVR
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.entries[gvr] == e {
		delete(i.entries, gvr)
	}
}

// newInformer builds the informer of one GVR across all namespaces, indexed by namespace.
// Resync period 0: the caller resyncs from the cache on its own schedule. The reflector
// streams the initial list where the server supports it (client-go's WatchListClient, on by
// default) and otherwise lists in pages (client-go's default of 500; SharedIndexInformer
// has no page size setting); an expired watch relists.
func newInformer(client dynamic.Interface, gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	indexers := cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}
	return dynamicinformer.NewFilteredDynamicInformer(client, gvr, "", 0, indexers, nil).Informer()
}

// strip keeps of every object what writing it needs (snapshot.CompactWith): its identity,
// the metadata filters read, and its files rendered once. Objects are replaced, not mutated;
// a value already cached is returned as it is.
func (i *Informers) strip(obj any) (any, error) {
	if o, ok := obj.(snapshot.Object); ok {
		return snapshot.CompactWith(o, i.defaulter), nil
	}
	return obj, nil
}

// eventHandler forwards an informer's events to h. Adds from the initial list are not
// forwarded (the caller resyncs from the cache once synced), nor are updates that keep the
// resourceVersion (a relist of unchanged objects), nor anything after the entry stopped.
func eventHandler(log *slog.Logger, e *entry, h Handler) cache.ResourceEventHandlerDetailedFuncs {
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, isInInitialList bool) {
			if !isInInitialList {
				forward(log, e, h, change.Create, obj)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			if !sameVersion(oldObj, newObj) {
				forward(log, e, h, change.Update, newObj)
			}
		},
		DeleteFunc: func(obj any) {
			// The watch missed the delete and a relist found the object gone.
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			forward(log, e, h, change.Delete, obj)
		},
	}
}

func forward(log *slog.Logger, e *entry, h Handler, op change.Op, obj any) {
	if !e.running() {
		return
	}
	res := *e.res.Load()
	o, ok := obj.(snapshot.Object)
	if !ok {
		log.Warn("informer event dropped: not an object", "gvr", res.GVR.String(), "op", op.String(), "type", fmt.Sprintf("%T", obj))
		return
	}
	h.OnEvent(res, op, o)
}

// sameVersion reports whether two objects carry the same, known resourceVersion.
func sameVersion(a, b any) bool {
	oa, okA := a.(snapshot.Object)
	ob, okB := b.(snapshot.Object)
	if !okA || !okB {
		return false
	}
	rv := oa.GetResourceVersion()
	return rv != "" && rv == ob.GetResourceVersion()
}

// watchErrorHandler logs failed lists and watches. The reflector retries with backoff (up to
// 30s apart), so a GVR whose API is gone (CRD deleted) logs at debug until the refresher's
// next discovery pass stops its informer.
func watchErrorHandler(log *slog.Logger, gvr schema.GroupVersionResource) cache.WatchErrorHandlerWithContext {
	return func(_ context.Context, _ *cache.Reflector, err error) {
		switch {
		case errors.Is(err, io.EOF):
			// The watch closed normally; the reflector opens a new one.
		case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
			log.Debug("informer watch expired, relisting", "gvr", gvr.String(), "err", err)
		case apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err):
			log.Debug("informer API gone, retrying until discovery drops it", "gvr", gvr.String(), "err", err)
		default:
			log.Warn("informer list or watch failed, retrying", "gvr", gvr.String(), "err", err)
		}
	}
}

// lookup returns the running entry of gvr, or nil.
func (i *Informers) lookup(gvr schema.GroupVersionResource) *entry {
	i.mu.RLock()
	defer i.mu.RUnlock()
	if e := i.entries[gvr]; e != nil && e.running() {
		return e
	}
	return nil
}

// runningEntries lists the running entries.
func (i *Informers) runningEntries() []*entry {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]*entry, 0, len(i.entries))
	for _, e := range i.entries {
		if e.running() {
			out = append(out, e)
		}
	}
	return out
}

// Synced reports whether the informer for gvr has finished its initial list (false if not
// running).
func (i *Informers) Synced(gvr schema.GroupVersionResource) bool {
	e := i.lookup(gvr)
	return e != nil && e.synced()
}

// AllSynced reports whether every running informer has synced (true when none run).
func (i *Informers) AllSynced() bool {
	for _, e := range i.runningEntries() {
		if !e.synced() {
			return false
		}
	}
	return true
}

// WaitSynced blocks until every running informer of gvrs (all of them when gvrs is empty)
// has synced or ctx ends, and reports whether they all synced. Informers that Set starts or
// stops meanwhile count as they come.
func (i *Informers) WaitSynced(ctx context.Context, gvrs ...schema.GroupVersionResource) bool {
	for {
		var pending []*entry
		for _, e := range i.runningEntries() {
			if !e.synced() && (len(gvrs) == 0 || slices.Contains(gvrs, e.res.Load().GVR)) {
				pending = append(pending, e)
			}
		}
		if len(pending) == 0 {
			return true
		}
		for _, e := range pending {
			select {
			case <-e.informer.HasSyncedChecker().Done():
			case <-e.ctx.Done():
			case <-ctx.Done():
				return false
			}
		}
	}
}

// Each calls fn for each cached object of res in namespace ("" = all namespaces; ignored for
// cluster-scoped resources) matching selector (nil = all). fn gets the cache's copy: it must
// not modify it. Each returns an error wrapping ErrNotSynced when the informer for res is not
// running or not yet synced, and ctx's error if ctx ends midway.
func (i *Informers) Each(ctx context.Context, res Resource, namespace string, selector labels.Selector, fn func(snapshot.Object)) error {
	e := i.lookup(res.GVR)
	if e == nil || !e.synced() {
		return fmt.Errorf("%s: %w", res.GVR.String(), ErrNotSynced)
	}
	objs, err := cachedObjects(e, namespace)
	if err != nil {
		return fmt.Errorf("%s: %w", res.GVR.String(), err)
	}
	for _, o := range objs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", res.GVR.String(), err)
		}
		obj, ok := o.(snapshot.Object)
		if !ok || (selector != nil && !selector.Matches(snapshot.LabelsOf(obj))) {
			continue
		}
		fn(obj)
	}
	return nil
}

// cachedObjects reads the objects of one namespace through the namespace index, or all.
func cachedObjects(e *entry, namespace string) ([]any, error) {
	indexer := e.informer.GetIndexer()
	if namespace == "" || !e.res.Load().Namespaced {
		return indexer.List(), nil
	}
	objs, err := indexer.ByIndex(cache.NamespaceIndex, namespace)
	if err != nil {
		return nil, fmt.Errorf("read namespace index: %w", err)
	}
	return objs, nil
}

// Running lists the GVRs with a running informer, sorted.
func (i *Informers) Running() []schema.GroupVersionResource {
	entries := i.runningEntries()
	out := make([]schema.GroupVersionResource, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.res.Load().GVR)
	}
	slices.SortFunc(out, compareGVR)
	return out
}

// Len is the number of running informers.
func (i *Informers) Len() int { return len(i.runningEntries()) }

func compareGVR(a, b schema.GroupVersionResource) int {
	return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Version, b.Version), cmp.Compare(a.Resource, b.Resource))
}
