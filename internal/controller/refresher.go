package controller

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"github.com/gitops-reverser/gitops-reverser/internal/cluster"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/metrics"
	"github.com/gitops-reverser/gitops-reverser/internal/status"
	"github.com/gitops-reverser/gitops-reverser/internal/webhook"
	"github.com/gitops-reverser/gitops-reverser/internal/writer"
)

// refresher turns rules and discovery into informers and writers: on every change of the
// configuration (read from its own informers) and every --discovery-interval it resolves the
// rules, makes the running informers, the webhook's rules and the writers match, hands the
// router the new routes and reports the status of the three kinds.
//
// Lock order: mu, then a writer's own lock (taken inside writer methods).
type refresher struct {
	opts      Options
	log       *slog.Logger
	metrics   *metrics.Metrics
	clients   *cluster.Clients
	defaults  *defaults
	router    *router
	informers *discovery.Informers
	refreshCh chan struct{}
	// refreshedAt is the UnixNano of the end of the first refresh; 0 before.
	refreshedAt atomic.Int64
	// nextResync schedules the writers' periodic resyncs; nil disables them.
	nextResync func(time.Time) time.Time
	// identity loads the controller's age identity when a destination encrypts Secrets.
	identity func(context.Context) (*age.X25519Identity, error)
	// recorder writes Kubernetes Events about destinations; nil until start.
	recorder record.EventRecorder
	// configurator keeps the webhook's configuration to the watched resources; nil without webhook.
	configurator *webhook.Configurator
	webhookSet   []schema.GroupVersionResource // what the configurator was last given

	mu      sync.Mutex
	writers map[types.NamespacedName]*running
	// stopping are the done channels of stopped writers that may still be flushing; a writer
	// removes its own entry when it is done.
	stopping map[types.NamespacedName]chan struct{}
	catalog  *discovery.Catalog
	wg       sync.WaitGroup // writers and backfills
}

// running is a started writer.
type running struct {
	w      *writer.Writer
	cancel context.CancelFunc
	done   chan struct{}
}

func newRefresher(o Options, log *slog.Logger, m *metrics.Metrics, c *cluster.Clients, rt *router, dft *defaults) (*refresher, error) {
	next, err := o.nextResync()
	if err != nil {
		return nil, err
	}
	rf := &refresher{
		opts:       o,
		log:        log,
		nextResync: next,
		metrics:    m,
		clients:    c,
		defaults:   dft,
		router:     rt,
		refreshCh:  make(chan struct{}, 1),
		identity:   destination.IdentityLoader(c.Kube, o.Namespace, o.AgeIdentitySecret),
		writers:    map[types.NamespacedName]*running{},
		stopping:   map[types.NamespacedName]chan struct{}{},
	}
	rf.informers = discovery.NewInformers(log, c.Dynamic, rt).WithDefaulter(dft.d)
	return rf, nil
}

// syncGrace is how long readiness waits for every informer. A resource that never syncs (no
// RBAC to list it, an API that fails) keeps its files and is logged; it must not keep the pod
// unready for good, which would also take the webhook's Service endpoints away.
const syncGrace = 2 * time.Minute

// ready is nil once the first refresh is done and every informer has synced, or syncGrace
// has passed since.
func (rf *refresher) ready() error {
	at := rf.refreshedAt.Load()
	if at == 0 {
		return errors.New("rules not resolved yet")
	}
	if !rf.informers.AllSynced() && time.Since(time.Unix(0, at)) < syncGrace {
		return errors.New("informers not synced yet")
	}
	return nil
}

// start runs the refresher until ctx ends, then stops everything it started in order: the
// informers (no new events), the router's queue (every event handed to its writer), then the
// writers, each flushing its pending changes. It returns once every goroutine has ended.
func (rf *refresher) start(ctx context.Context) error {
	stopEvents := rf.recordEvents(ctx)
	defer stopEvents()
	config, err := watchConfig(ctx, rf.clients.Dynamic, rf.trigger, crdHook{schemas: rf.defaults.schemas, changed: func(gr schema.GroupResource) { rf.rerender(ctx, &gr) }})
	if err != nil {
		return err
	}
	defer config.stop()
	stopRouter := rf.router.start()
	ticker := time.NewTicker(rf.opts.DiscoveryInterval)
	defer ticker.Stop()
	rf.trigger()
	for {
		select {
		case <-ctx.Done():
			rf.informers.Wait()
			stopRouter()
			rf.stopAll()
			return nil
		case <-ticker.C:
		case <-rf.refreshCh:
		}
		if err := rf.refresh(ctx, config.source); err != nil && ctx.Err() == nil {
			rf.log.Error("refresh failed", "err", err)
		}
	}
}

// trigger asks for a refresh soon (rules, destinations or CRDs changed).
func (rf *refresher) trigger() {
	select {
	case rf.refreshCh <- struct{}{}:
	default:
	}
}

// refresh resolves all rules against discovery, then makes informers, writers and routes match.
func (rf *refresher) refresh(ctx context.Context, source destination.ConfigSource) error {
	cat, err := rf.clients.Catalog(ctx)
	if err != nil {
		return err
	}
	if rf.defaults.follow(rf.log, rf.clients) && rf.refreshedAt.Load() != 0 {
		rf.log.Info("API server version changed: rendering every watched object again")
		rf.rerender(ctx, nil)
	}
	cfg, targets, problems, err := destination.Load(ctx, source, destination.Clients{Kube: rf.clients.Kube, Identity: rf.identity, Defaulter: rf.defaults.d}, cat)
	if err != nil {
		return err
	}

	rf.mu.Lock()
	rf.catalog = cat
	rf.mu.Unlock()

	want := wanted(targets)
	started, stopped := rf.informers.Set(ctx, want)
	rf.configureWebhook(ctx, want)
	rf.metrics.WatchedGVRs.Set(float64(rf.informers.Len()))
	if len(started)+len(stopped) > 0 {
		rf.log.Info("watched resources changed", "started", gvrStrings(started), "stopped", gvrStrings(stopped), "watching", rf.informers.Len())
	}
	if fresh := rf.syncWriters(ctx, targets); len(fresh)+len(started) > 0 {
		rf.wg.Go(func() { rf.backfill(ctx, started, fresh) })
	}
	rf.reportStatus(ctx, cfg, problems)
	rf.refreshedAt.CompareAndSwap(0, time.Now().UnixNano())
	return nil
}

// configureWebhook keeps the webhook's rules equal to the watched resources, so unrelated
// writes never call it. A failure only costs attribution; it is retried on the next refresh.
func (rf *refresher) configureWebhook(ctx context.Context, want []discovery.Resource) {
	if rf.configurator == nil {
		return
	}
	gvrs := make([]schema.GroupVersionResource, len(want))
	for i, r := range want {
		gvrs[i] = r.GVR
	}
	if rf.webhookSet != nil && reflect.DeepEqual(gvrs, rf.webhookSet) {
		return
	}
	if err := rf.configurator.SetResources(ctx, want); err != nil {
		rf.log.Warn("webhook configuration not updated; authors of these writes stay unknown", "err", err)
		return
	}
	rf.webhookSet = gvrs
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
func (rf *refresher) backfill(ctx context.Context, started []schema.GroupVersionResource, fresh []*writer.Writer) {
	set := map[schema.GroupVersionResource]bool{}
	for _, g := range started {
		set[g] = true
	}
	todo := map[*writer.Writer]bool{}
	for _, w := range fresh {
		todo[w] = true
	}
	rf.mu.Lock()
	for _, r := range rf.writers {
		for _, s := range r.w.Target().Sources {
			if set[s.Resource.GVR] {
				todo[r.w] = true
				break
			}
		}
	}
	rf.mu.Unlock()
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
			if !rf.informers.WaitSynced(wctx, gvrs...) && ctx.Err() != nil {
				return
			}
			w.Resync()
		})
	}
	wg.Wait()
}

// backfillWait bounds how long a writer's first resync waits for its informers.
const backfillWait = time.Minute

// syncWriters starts, updates and stops writers to match targets, then hands the router the
// new routes. It returns the writers that are new or got new sources: they need a resync.
func (rf *refresher) syncWriters(ctx context.Context, targets []*destination.Target) []*writer.Writer {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	var fresh []*writer.Writer
	seen := map[types.NamespacedName]bool{}
	for _, t := range targets {
		seen[t.Name] = true
		r, ok := rf.writers[t.Name]
		if ok && sameWhere(r.w.Target(), t) {
			if !reflect.DeepEqual(r.w.Target().Sources, t.Sources) {
				fresh = append(fresh, r.w)
			}
			r.w.SetTarget(t)
			continue
		}
		if ok {
			rf.stopLocked(t.Name, r)
		}
		fresh = append(fresh, rf.startLocked(ctx, t))
	}
	for name, r := range rf.writers {
		if !seen[name] {
			rf.stopLocked(name, r)
		}
	}
	ws := make([]*writer.Writer, 0, len(rf.writers))
	for _, r := range rf.writers {
		ws = append(ws, r.w)
	}
	rf.router.setRoutes(ws)
	return fresh
}

// sameWhere reports whether two targets write to the same place the same way, so the writer
// (and its clone) can be kept and only its sources replaced.
func sameWhere(a, b *destination.Target) bool {
	x, y := *a, *b
	x.Sources, y.Sources = nil, nil
	x.Encrypter, y.Encrypter = nil, nil // made anew on every refresh; AgeRecipients compare
	x.Signer, y.Signer = nil, nil       // made anew on every refresh; the writer takes the newest
	x.Suspend, y.Suspend = false, false // the writer pauses and resumes
	x.RequestedAt, y.RequestedAt = "", ""
	x.Defaulter, y.Defaulter = nil, nil // the process's one
	return reflect.DeepEqual(x, y)
}

// startLocked starts a writer for t. A stopped writer of the same name may still be flushing:
// the new one starts once it is done, since they may share a clone. Writers do not end with
// ctx: stopAll stops them once the router has handed them every event.
func (rf *refresher) startLocked(ctx context.Context, t *destination.Target) *writer.Writer {
	after := rf.stopping[t.Name]
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	name := t.Name
	log := rf.log.With("destination", name.String())
	w := writer.New(t, writer.Options{
		Log:          log,
		Objects:      rf.informers,
		Unavailable:  rf.unavailable,
		NextResync:   rf.nextResync,
		EmailDomain:  rf.opts.AuthorEmailDomain,
		DefaultsNote: rf.defaults.Note,
		CloneDir:     t.CloneDir(log, rf.opts.CacheDir),
		Metrics:      rf.metrics,
		// The final flush reports after wctx ended: its outcome is written all the same.
		OnStatus: func(s status.Destination) {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(wctx), 10*time.Second)
			defer cancel()
			rf.destinationStatus(sctx, name, s)
		},
	})
	r := &running{w: w, cancel: cancel, done: make(chan struct{})}
	rf.writers[name] = r
	rf.wg.Go(func() {
		defer rf.finished(name, r)
		if after != nil {
			<-after
		}
		if err := w.Start(wctx); err != nil {
			log.Error("writer stopped with an error", "err", err)
		}
	})
	log.Info("destination started", "url", t.Repo.URL, "branch", t.Repo.Branch)
	return w
}

// stopLocked stops a writer without waiting for its final flush, which may take as long as the
// remote needs: other destinations' work must not wait for it.
func (rf *refresher) stopLocked(name types.NamespacedName, r *running) {
	r.cancel()
	delete(rf.writers, name)
	rf.stopping[name] = r.done
	rf.log.Info("destination stopped", "destination", name.String())
}

// finished is called when a writer has flushed and ended. A removed destination leaves no
// metric series, unless a writer of that name runs again.
func (rf *refresher) finished(name types.NamespacedName, r *running) {
	rf.mu.Lock()
	defer rf.mu.Unlock()
	close(r.done)
	if rf.stopping[name] == r.done {
		delete(rf.stopping, name)
	}
	if _, running := rf.writers[name]; !running {
		rf.metrics.ForgetDestination(name.String())
	}
}

// stopAll stops every writer, each flushing its pending changes first, and waits for them and
// for the backfills.
func (rf *refresher) stopAll() {
	rf.mu.Lock()
	for _, r := range rf.writers {
		r.cancel()
	}
	rf.mu.Unlock()
	rf.wg.Wait()
}

func (rf *refresher) unavailable(gr schema.GroupResource) bool {
	rf.mu.Lock()
	cat := rf.catalog
	rf.mu.Unlock()
	return cat != nil && cat.Unavailable(gr)
}

func gvrStrings(gs []schema.GroupVersionResource) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}

// rerender lists the resources of gr again after their CRD changed (every resource, for nil:
// after the server's version changed), so that their cached Clean files follow its defaults,
// and once listed resyncs every writer with them.
func (rf *refresher) rerender(ctx context.Context, gr *schema.GroupResource) {
	rf.informers.Restart(gr)
	rf.wg.Go(func() {
		for !rf.informers.AllSynced() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
		}
		rf.mu.Lock()
		defer rf.mu.Unlock()
		for _, r := range rf.writers {
			r.w.Resync()
		}
	})
}
