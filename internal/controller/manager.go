package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/metrics"
	"github.com/gitops-reverser/gitops-reverser/internal/status"
	"github.com/gitops-reverser/gitops-reverser/internal/webhook"
	"github.com/gitops-reverser/gitops-reverser/internal/writer"
)

// manager resolves rules into informers and writers and routes events between them.
// Lock order: mu, then a writer's own lock (taken inside writer methods).
type manager struct {
	opts        Options
	metrics     *metrics.Metrics
	dyn         dynamic.Interface
	kube        kubernetes.Interface
	disc        clientdiscovery.DiscoveryInterface
	informers   *discovery.Informers
	refreshCh   chan struct{}
	refreshedAt atomic.Int64 // UnixNano of the end of the first refresh; 0 before
	// nextResync schedules the writers' periodic resyncs; nil disables them.
	nextResync func(time.Time) time.Time
	// identity loads the controller's age identity when a destination encrypts Secrets.
	identity func(context.Context) (*age.X25519Identity, error)
	// recorder writes Kubernetes Events about destinations; nil until start.
	recorder record.EventRecorder
	// authors holds who made recent writes, as the admission webhook saw them.
	authors *webhook.Cache
	// configurator keeps the webhook's configuration to the watched resources; nil without webhook.
	configurator *webhook.Configurator
	webhookSet   []schema.GroupVersionResource // what the configurator was last given

	mu      sync.Mutex
	writers map[types.NamespacedName]*running
	// stopping are the done channels of stopped writers, which may still be flushing.
	stopping map[types.NamespacedName]<-chan struct{}
	catalog  *discovery.Catalog
	routes   atomic.Pointer[routes]
	wg       sync.WaitGroup // running writers
}

// running is a started writer.
type running struct {
	w      *writer.Writer
	cancel context.CancelFunc
	done   chan struct{}
}

func newManager(o Options, m *metrics.Metrics) (*manager, error) {
	next, err := o.nextResync()
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(o.Config)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(o.Config)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(o.Config)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	mg := &manager{
		opts:       o,
		nextResync: next,
		metrics:    m,
		dyn:        dyn,
		kube:       kube,
		disc:       dc,
		refreshCh:  make(chan struct{}, 1),
		authors:    webhook.NewCache(o.Webhook.CacheSize, o.Webhook.CacheTTL),
		identity:   destination.IdentityLoader(kube, o.Namespace, o.AgeIdentitySecret),
		writers:    map[types.NamespacedName]*running{},
		stopping:   map[types.NamespacedName]<-chan struct{}{},
	}
	mg.informers = discovery.NewInformers(dyn, mg)
	mg.routes.Store(&routes{})
	return mg, nil
}

// syncGrace is how long readiness waits for every informer. A resource that never syncs (no
// RBAC to list it, an API that fails) keeps its files and is logged; it must not keep the pod
// unready for good, which would also take the webhook's Service endpoints away.
const syncGrace = 2 * time.Minute

// ready is nil once the first refresh is done and every informer has synced, or syncGrace
// has passed since.
func (mg *manager) ready() error {
	at := mg.refreshedAt.Load()
	if at == 0 {
		return errors.New("rules not resolved yet")
	}
	if !mg.informers.AllSynced() && time.Since(time.Unix(0, at)) < syncGrace {
		return errors.New("informers not synced yet")
	}
	return nil
}

// start runs the refresher until ctx ends, then stops every writer (each flushes) and waits.
func (mg *manager) start(ctx context.Context) error {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: mg.kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	mg.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "gitops-reverser"})
	stopWatch, err := mg.watchConfig(ctx)
	if err != nil {
		return err
	}
	defer stopWatch()
	ticker := time.NewTicker(mg.opts.DiscoveryInterval)
	defer ticker.Stop()
	mg.trigger()
	for {
		select {
		case <-ctx.Done():
			mg.stopAll()
			return nil
		case <-ticker.C:
		case <-mg.refreshCh:
		}
		if err := mg.refresh(ctx); err != nil && ctx.Err() == nil {
			slog.Error("refresh failed", "err", err)
		}
	}
}

// trigger asks for a refresh soon (rules, destinations or CRDs changed).
func (mg *manager) trigger() {
	select {
	case mg.refreshCh <- struct{}{}:
	default:
	}
}

// refresh resolves all rules against discovery, then makes informers, writers and routes match.
func (mg *manager) refresh(ctx context.Context) error {
	cat, err := discovery.Fetch(ctx, mg.disc)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	cfg, err := destination.Read(ctx, mg.dyn)
	if err != nil {
		return err
	}
	targets, problems := destination.Resolve(ctx, destination.Clients{Kube: mg.kube, Identity: mg.identity}, cfg, cat)

	mg.mu.Lock()
	mg.catalog = cat
	mg.mu.Unlock()

	want := wanted(targets)
	started, stopped := mg.informers.Set(ctx, want)
	mg.configureWebhook(ctx, want)
	mg.metrics.WatchedGVRs.Set(float64(mg.informers.Len()))
	if len(started)+len(stopped) > 0 {
		slog.Info("watched resources changed", "started", gvrStrings(started), "stopped", gvrStrings(stopped), "watching", mg.informers.Len())
	}
	if fresh := mg.syncWriters(ctx, targets); len(fresh)+len(started) > 0 {
		go mg.backfill(ctx, started, fresh)
	}
	mg.reportStatus(ctx, cfg, problems)
	mg.refreshedAt.CompareAndSwap(0, time.Now().UnixNano())
	return nil
}

// configureWebhook keeps the webhook's rules equal to the watched resources, so unrelated
// writes never call it. A failure only costs attribution; it is retried on the next refresh.
func (mg *manager) configureWebhook(ctx context.Context, want []discovery.Resource) {
	if mg.configurator == nil {
		return
	}
	gvrs := make([]schema.GroupVersionResource, len(want))
	for i, r := range want {
		gvrs[i] = r.GVR
	}
	if mg.webhookSet != nil && reflect.DeepEqual(gvrs, mg.webhookSet) {
		return
	}
	if err := mg.configurator.SetResources(ctx, want); err != nil {
		slog.Warn("webhook configuration not updated; authors of these writes stay unknown", "err", err)
		return
	}
	mg.webhookSet = gvrs
}

// wanted is the union of every target's resources; Named when any source names it.
func wanted(targets []*destination.Target) []discovery.Resource {
	byGVR := map[schema.GroupVersionResource]discovery.Resource{}
	var order []schema.GroupVersionResource
	for _, t := range targets {
		for _, s := range t.Sources {
			r, ok := byGVR[s.Resource.GVR]
			if !ok {
				order = append(order, s.Resource.GVR)
				r = s.Resource
			}
			r.Named = r.Named || s.Resource.Named
			byGVR[s.Resource.GVR] = r
		}
	}
	out := make([]discovery.Resource, 0, len(order))
	for _, g := range order {
		out = append(out, byGVR[g])
	}
	return out
}

// backfill resyncs new or retargeted writers, and the writers that use newly started
// informers, once their own informers have synced: objects that existed before a rule appear
// without waiting for a change, and an unsynced cache is never taken for deleted objects. Each
// writer waits for its own resources only, and at most backfillWait: a resource that never
// syncs (no RBAC to list it) keeps its files and holds up no one.
func (mg *manager) backfill(ctx context.Context, started []schema.GroupVersionResource, fresh []*writer.Writer) {
	set := map[schema.GroupVersionResource]bool{}
	for _, g := range started {
		set[g] = true
	}
	todo := map[*writer.Writer]bool{}
	for _, w := range fresh {
		todo[w] = true
	}
	mg.mu.Lock()
	for _, r := range mg.writers {
		for _, s := range r.w.Target().Sources {
			if set[s.Resource.GVR] {
				todo[r.w] = true
				break
			}
		}
	}
	mg.mu.Unlock()
	var wg sync.WaitGroup
	for w := range todo {
		wg.Go(func() {
			var gvrs []schema.GroupVersionResource
			for _, s := range w.Target().Sources {
				gvrs = append(gvrs, s.Resource.GVR)
			}
			if len(gvrs) == 0 {
				w.Resync() // no sources: its files go
				return
			}
			wctx, cancel := context.WithTimeout(ctx, backfillWait)
			defer cancel()
			if !mg.informers.WaitSynced(wctx, gvrs...) && ctx.Err() != nil {
				return
			}
			w.Resync()
		})
	}
	wg.Wait()
}

// backfillWait bounds how long a writer's first resync waits for its informers.
const backfillWait = time.Minute

// syncWriters starts, updates and stops writers to match targets, then swaps the routes. It
// returns the writers that are new or got new sources: they need a resync.
func (mg *manager) syncWriters(ctx context.Context, targets []*destination.Target) []*writer.Writer {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	var fresh []*writer.Writer
	seen := map[types.NamespacedName]bool{}
	for _, t := range targets {
		seen[t.Name] = true
		r, ok := mg.writers[t.Name]
		switch {
		case ok && sameWhere(r.w.Target(), t):
			if !reflect.DeepEqual(r.w.Target().Sources, t.Sources) {
				r.w.SetTarget(t)
				fresh = append(fresh, r.w)
			}
			continue
		}
		if ok {
			mg.stopLocked(t.Name, r)
		}
		fresh = append(fresh, mg.startLocked(ctx, t))
	}
	for name, r := range mg.writers {
		if !seen[name] {
			mg.stopLocked(name, r)
		}
	}
	mg.routes.Store(buildRoutes(mg.writers))
	return fresh
}

// sameWhere reports whether two targets write to the same place the same way, so the writer
// (and its clone) can be kept and only its sources replaced.
func sameWhere(a, b *destination.Target) bool {
	x, y := *a, *b
	x.Sources, y.Sources = nil, nil
	x.Encrypter, y.Encrypter = nil, nil // made anew on every refresh; AgeRecipients compare
	return reflect.DeepEqual(x, y)
}

// startLocked starts a writer for t. A stopped writer of the same name may still be flushing:
// the new one starts once it is done, since they may share a clone.
func (mg *manager) startLocked(ctx context.Context, t *destination.Target) *writer.Writer {
	after := mg.stopping[t.Name]
	wctx, cancel := context.WithCancel(ctx)
	name := t.Name
	w := writer.New(t, writer.Options{
		Objects:     mg.informers,
		Unavailable: mg.unavailable,
		NextResync:  mg.nextResync,
		EmailDomain: mg.opts.AuthorEmailDomain,
		CloneDir:    t.CloneDir(mg.opts.CacheDir),
		Metrics:     mg.metrics,
		// The final flush reports after wctx ended: its outcome is written all the same.
		OnStatus: func(s status.Destination) {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(wctx), 10*time.Second)
			defer cancel()
			mg.destinationStatus(sctx, name, s)
		},
	})
	r := &running{w: w, cancel: cancel, done: make(chan struct{})}
	mg.writers[name] = r
	mg.wg.Add(1)
	go func() {
		defer mg.wg.Done()
		defer close(r.done)
		if after != nil {
			<-after
		}
		if err := w.Start(wctx); err != nil {
			slog.Error("writer stopped with an error", "destination", name.String(), "err", err)
		}
		mg.forgetMetricsIfGone(name)
	}()
	slog.Info("destination started", "destination", name.String(), "url", t.Repo.URL, "branch", t.Repo.Branch)
	return w
}

// stopLocked stops a writer without waiting for its final flush, which may take as long as the
// remote needs: other destinations' work must not wait for it.
func (mg *manager) stopLocked(name types.NamespacedName, r *running) {
	r.cancel()
	delete(mg.writers, name)
	mg.stopping[name] = r.done
	slog.Info("destination stopped", "destination", name.String())
}

// forgetMetricsIfGone deletes a destination's metric series once its last writer has
// flushed, unless a writer of that name runs again: a removed destination leaves no series.
func (mg *manager) forgetMetricsIfGone(name types.NamespacedName) {
	mg.mu.Lock()
	defer mg.mu.Unlock()
	if _, running := mg.writers[name]; !running {
		mg.metrics.ForgetDestination(name.String())
	}
}

// stopAll stops every writer; each flushes its pending changes first.
func (mg *manager) stopAll() {
	mg.mu.Lock()
	for _, r := range mg.writers {
		r.cancel()
	}
	mg.mu.Unlock()
	mg.wg.Wait()
}

func (mg *manager) unavailable(gr schema.GroupResource) bool {
	mg.mu.Lock()
	cat := mg.catalog
	mg.mu.Unlock()
	return cat != nil && cat.Unavailable(gr)
}

func gvrStrings(gs []schema.GroupVersionResource) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}
