package discovery

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// wait bounds every wait for something asynchronous; tests never sleep to assert.
const wait = 30 * time.Second

var (
	cmGVR     = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	widgetGVR = schema.GroupVersionResource{Group: "shop.example.com", Version: "v1", Resource: "widgets"}
	cmRes     = Resource{GVR: cmGVR, Kind: "ConfigMap", Namespaced: true}
	widgetRes = Resource{GVR: widgetGVR, Kind: "Widget", Namespaced: true}
)

func newFakeClient(objs ...runtime.Object) *fake.FakeDynamicClient {
	kinds := map[schema.GroupVersionResource]string{cmGVR: "ConfigMapList", widgetGVR: "WidgetList"}
	return fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), kinds, objs...)
}

// object builds a ConfigMap (gvr cmGVR) or Widget (widgetGVR) with the given resourceVersion:
// the fake client keeps resourceVersions as given.
func object(gvr schema.GroupVersionResource, ns, name, rv string, lbls map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(gvr.GroupVersion().String())
	u.SetKind(map[schema.GroupVersionResource]string{cmGVR: "ConfigMap", widgetGVR: "Widget"}[gvr])
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetResourceVersion(rv)
	u.SetLabels(lbls)
	return u
}

// event is what the recorder saw of one Handler call.
type event struct {
	GVR   schema.GroupVersionResource
	Named bool
	Op    string
	Key   string
	RV    string
}

type recorder struct{ ch chan event }

func newRecorder() *recorder { return &recorder{ch: make(chan event, 100)} }

func (r *recorder) OnEvent(res Resource, op change.Op, obj snapshot.Object) {
	r.ch <- event{GVR: res.GVR, Named: res.Named, Op: op.String(), Key: obj.GetNamespace() + "/" + obj.GetName(), RV: obj.GetResourceVersion()}
}

// next waits for the next n events and returns them sorted by GVR (informers of different
// GVRs deliver concurrently; one GVR's events keep their order).
func (r *recorder) next(t *testing.T, n int) []event {
	t.Helper()
	var got []event
	deadline := time.After(wait)
	for len(got) < n {
		select {
		case e := <-r.ch:
			got = append(got, e)
		case <-deadline:
			t.Fatalf("got %d of %d events before the deadline: %+v", len(got), n, got)
		}
	}
	sort.SliceStable(got, func(i, j int) bool { return compareGVR(got[i].GVR, got[j].GVR) < 0 })
	return got
}

// drained returns the events already delivered, without waiting.
func (r *recorder) drained() []event {
	var got []event
	for {
		select {
		case e := <-r.ch:
			got = append(got, e)
		default:
			return got
		}
	}
}

func waitSynced(t *testing.T, inf *Informers) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if !inf.WaitSynced(ctx) {
		t.Fatalf("informers %v not synced before the deadline", inf.Running())
	}
}

func informerOf(inf *Informers, gvr schema.GroupVersionResource) cache.SharedIndexInformer {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	if e := inf.entries[gvr]; e != nil {
		return e.informer
	}
	return nil
}

func TestInformersSet(t *testing.T) {
	named := widgetRes
	named.Named = true
	steps := []struct {
		name             string
		want             []Resource
		started, stopped []schema.GroupVersionResource
		named            bool // the stored widget Resource is Named
	}{
		{name: "start two", want: []Resource{widgetRes, cmRes}, started: []schema.GroupVersionResource{cmGVR, widgetGVR}},
		{name: "same set keeps both", want: []Resource{cmRes, widgetRes}},
		{name: "changed Named updates in place", want: []Resource{cmRes, named}, named: true},
		{name: "removing one stops only it", want: []Resource{cmRes}, stopped: []schema.GroupVersionResource{widgetGVR}},
		{name: "adding it back starts it", want: []Resource{cmRes, widgetRes}, started: []schema.GroupVersionResource{widgetGVR}},
		{name: "empty stops all", want: nil, stopped: []schema.GroupVersionResource{cmGVR, widgetGVR}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inf := NewInformers(slog.New(slog.DiscardHandler), newFakeClient(), newRecorder())
	before := map[schema.GroupVersionResource]cache.SharedIndexInformer{}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			started, stopped := inf.Set(ctx, s.want)
			if diff := cmp.Diff(s.started, started); diff != "" {
				t.Errorf("started (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(s.stopped, stopped); diff != "" {
				t.Errorf("stopped (-want +got):\n%s", diff)
			}
			var wantRunning []schema.GroupVersionResource
			for _, r := range s.want {
				wantRunning = append(wantRunning, r.GVR)
			}
			sort.Slice(wantRunning, func(i, j int) bool { return compareGVR(wantRunning[i], wantRunning[j]) < 0 })
			if diff := cmp.Diff(wantRunning, inf.Running(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Running (-want +got):\n%s", diff)
			}
			if inf.Len() != len(wantRunning) {
				t.Errorf("Len = %d, want %d", inf.Len(), len(wantRunning))
			}
			for gvr, old := range before {
				cur := informerOf(inf, gvr)
				kept := cur != nil && !contains(s.started, gvr) && !contains(s.stopped, gvr)
				if kept && cur != old {
					t.Errorf("informer of %s was replaced, want it kept", gvr)
				}
				if contains(s.stopped, gvr) && cur != nil {
					t.Errorf("stopped informer of %s is still in the map", gvr)
				}
			}
			if e := inf.lookup(widgetGVR); e != nil && e.res.Load().Named != s.named {
				t.Errorf("stored widget Named = %v, want %v", e.res.Load().Named, s.named)
			}
			before = map[schema.GroupVersionResource]cache.SharedIndexInformer{}
			for _, gvr := range inf.Running() {
				before[gvr] = informerOf(inf, gvr)
			}
		})
	}
}

func contains(gvrs []schema.GroupVersionResource, gvr schema.GroupVersionResource) bool {
	for _, g := range gvrs {
		if g == gvr {
			return true
		}
	}
	return false
}

func TestInformersEvents(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := newFakeClient(
		object(cmGVR, "ns1", "initial", "1", nil),
		object(widgetGVR, "ns1", "initial", "1", nil),
	)
	rec := newRecorder()
	inf := NewInformers(slog.New(slog.DiscardHandler), client, rec)
	named := widgetRes
	named.Named = true
	inf.Set(ctx, []Resource{cmRes, named})
	waitSynced(t, inf)

	cms := client.Resource(cmGVR).Namespace("ns1")
	widgets := client.Resource(widgetGVR).Namespace("ns1")
	must := func(_ *unstructured.Unstructured, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name string
		do   func()
		want []event
	}{
		{
			// Each informer delivers in order: had the initial objects been forwarded,
			// they would come first.
			name: "adds after sync, not the initial list",
			do: func() {
				must(cms.Create(ctx, object(cmGVR, "ns1", "a", "2", nil), metav1.CreateOptions{}))
				must(widgets.Create(ctx, object(widgetGVR, "ns1", "w", "2", nil), metav1.CreateOptions{}))
			},
			want: []event{
				{GVR: cmGVR, Op: "CREATE", Key: "ns1/a", RV: "2"},
				{GVR: widgetGVR, Named: true, Op: "CREATE", Key: "ns1/w", RV: "2"},
			},
		},
		{
			name: "update with the same resourceVersion is dropped",
			do: func() {
				must(cms.Update(ctx, object(cmGVR, "ns1", "a", "2", map[string]string{"x": "y"}), metav1.UpdateOptions{}))
				must(cms.Update(ctx, object(cmGVR, "ns1", "a", "3", map[string]string{"x": "z"}), metav1.UpdateOptions{}))
			},
			want: []event{{GVR: cmGVR, Op: "UPDATE", Key: "ns1/a", RV: "3"}},
		},
		{
			name: "delete",
			do: func() {
				if err := cms.Delete(ctx, "a", metav1.DeleteOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			want: []event{{GVR: cmGVR, Op: "DELETE", Key: "ns1/a", RV: "3"}},
		},
		{
			name: "stopped informer forwards nothing",
			do: func() {
				inf.Set(ctx, []Resource{cmRes})
				must(widgets.Create(ctx, object(widgetGVR, "ns1", "late", "3", nil), metav1.CreateOptions{}))
				must(cms.Create(ctx, object(cmGVR, "ns1", "b", "4", nil), metav1.CreateOptions{}))
			},
			want: []event{{GVR: cmGVR, Op: "CREATE", Key: "ns1/b", RV: "4"}},
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.do()
			if diff := cmp.Diff(s.want, rec.next(t, len(s.want))); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInformersEach(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	big := object(cmGVR, "ns1", "applied", "1", map[string]string{"app": "a"})
	big.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply}})
	big.SetAnnotations(map[string]string{lastApplied: `{"big":"json"}`, "keep": "me"})
	big.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: "p", UID: "u1"}})
	inf := NewInformers(slog.New(slog.DiscardHandler), newFakeClient(
		big,
		object(cmGVR, "ns1", "b", "1", map[string]string{"app": "b"}),
		object(cmGVR, "ns2", "c", "1", map[string]string{"app": "a"}),
	), newRecorder())
	inf.Set(ctx, []Resource{cmRes})
	waitSynced(t, inf)

	appA := labels.SelectorFromSet(labels.Set{"app": "a"})
	tests := []struct {
		name      string
		namespace string
		selector  labels.Selector
		want      []string
	}{
		{name: "all", want: []string{"ns1/applied", "ns1/b", "ns2/c"}},
		{name: "one namespace", namespace: "ns1", want: []string{"ns1/applied", "ns1/b"}},
		{name: "selector", selector: appA, want: []string{"ns1/applied", "ns2/c"}},
		{name: "namespace and selector", namespace: "ns1", selector: appA, want: []string{"ns1/applied"}},
		{name: "empty namespace", namespace: "ns3", want: nil},
		{name: "everything selector", selector: labels.Everything(), want: []string{"ns1/applied", "ns1/b", "ns2/c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			err := inf.Each(ctx, cmRes, tt.namespace, tt.selector, func(o snapshot.Object) {
				got = append(got, o.GetNamespace()+"/"+o.GetName())
			})
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("cache holds stripped objects", func(t *testing.T) {
		var got snapshot.Object
		if err := inf.Each(ctx, cmRes, "ns1", appA, func(o snapshot.Object) { got = o }); err != nil {
			t.Fatal(err)
		}
		if _, cached := got.(*snapshot.Cached); !cached {
			t.Fatalf("cached object = %T, want *snapshot.Cached", got)
		}
		if diff := cmp.Diff(map[string]string{"keep": "me"}, got.GetAnnotations()); diff != "" {
			t.Errorf("annotations (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(big.GetOwnerReferences(), got.GetOwnerReferences()); diff != "" {
			t.Errorf("ownerReferences (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(map[string]string{"app": "a"}, got.GetLabels()); diff != "" {
			t.Errorf("labels (-want +got):\n%s", diff)
		}
	})
}

// TestInformersRelistDelete: a delete the watch missed is found by the relist after the watch
// expired, and comes as client-go's tombstone of the cached value; it is forwarded as a delete.
func TestInformersRelistDelete(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := newFakeClient(object(cmGVR, "ns1", "a", "1", map[string]string{"app": "a"}))
	watches := make(chan *watch.FakeWatcher, 10)
	client.PrependWatchReactor("configmaps", func(clienttesting.Action) (bool, watch.Interface, error) {
		w := watch.NewFake()
		select {
		case watches <- w:
		default: // only the first watch matters; later ones must not block the reflector
		}
		return true, w, nil
	})
	rec := newRecorder()
	inf := NewInformers(slog.New(slog.DiscardHandler), client, rec)
	inf.Set(ctx, []Resource{cmRes})
	waitSynced(t, inf)
	var w *watch.FakeWatcher
	select {
	case w = <-watches:
	case <-time.After(wait):
		t.Fatal("informer never watched")
	}
	if err := client.Tracker().Delete(cmGVR, "ns1", "a"); err != nil { // no event on w
		t.Fatal(err)
	}
	w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: http.StatusGone, Reason: metav1.StatusReasonExpired})
	want := []event{{GVR: cmGVR, Op: "DELETE", Key: "ns1/a", RV: "1"}}
	if diff := cmp.Diff(want, rec.next(t, 1)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestInformersNotSynced(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := newFakeClient(object(widgetGVR, "ns1", "w", "1", nil))
	// The widget API answers NotFound (a deleted CRD) until it comes back.
	var gone atomic.Bool
	gone.Store(true)
	failed := make(chan struct{}, 1)
	client.PrependReactor("list", "widgets", func(clienttesting.Action) (bool, runtime.Object, error) {
		if !gone.Load() {
			return false, nil, nil
		}
		select {
		case failed <- struct{}{}:
		default:
		}
		return true, nil, apierrors.NewNotFound(widgetGVR.GroupResource(), "")
	})
	inf := NewInformers(slog.New(slog.DiscardHandler), client, newRecorder())
	inf.Set(ctx, []Resource{widgetRes})
	select {
	case <-failed:
	case <-time.After(wait):
		t.Fatal("informer never listed widgets")
	}

	unknown := Resource{GVR: schema.GroupVersionResource{Group: "x.example.com", Version: "v1", Resource: "things"}}
	for _, res := range []Resource{widgetRes, unknown} {
		t.Run(res.GVR.Resource, func(t *testing.T) {
			err := inf.Each(ctx, res, "", nil, func(snapshot.Object) { t.Error("fn called") })
			if !errors.Is(err, ErrNotSynced) {
				t.Errorf("Each error = %v, want ErrNotSynced", err)
			}
			if inf.Synced(res.GVR) {
				t.Error("Synced = true")
			}
		})
	}
	if inf.AllSynced() {
		t.Error("AllSynced = true with a failing informer")
	}
	done, stop := context.WithCancel(ctx)
	stop()
	if inf.WaitSynced(done) {
		t.Error("WaitSynced with an ended context = true")
	}

	gone.Store(false) // the reflector retries after its backoff
	waitSynced(t, inf)
	if !inf.Synced(widgetGVR) || !inf.AllSynced() {
		t.Errorf("after recovery: Synced = %v, AllSynced = %v", inf.Synced(widgetGVR), inf.AllSynced())
	}
}

func TestInformersParentContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	inf := NewInformers(slog.New(slog.DiscardHandler), newFakeClient(), newRecorder())
	inf.Set(ctx, []Resource{cmRes})
	waitSynced(t, inf)
	old := informerOf(inf, cmGVR)
	cancel()

	if n := inf.Len(); n != 0 {
		t.Errorf("Len after the parent ended = %d, want 0", n)
	}
	if inf.Synced(cmGVR) {
		t.Error("Synced after the parent ended = true")
	}
	if err := inf.Each(context.Background(), cmRes, "", nil, func(snapshot.Object) {}); !errors.Is(err, ErrNotSynced) {
		t.Errorf("Each after the parent ended = %v, want ErrNotSynced", err)
	}
	started, stopped := inf.Set(ctx, []Resource{cmRes, widgetRes})
	if started != nil || stopped != nil || inf.Len() != 0 {
		t.Errorf("Set after the parent ended: started %v, stopped %v, Len %d; want a no-op", started, stopped, inf.Len())
	}
	deadline := time.Now().Add(wait)
	for !old.IsStopped() {
		if time.Now().After(deadline) {
			t.Fatal("informer still running after the parent ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEventHandler(t *testing.T) {
	cm := func(rv string) *unstructured.Unstructured { return object(cmGVR, "ns1", "a", rv, nil) }
	tests := []struct {
		name    string
		stopped bool
		call    func(cache.ResourceEventHandlerDetailedFuncs)
		want    []event
	}{
		{
			name: "initial add dropped",
			call: func(h cache.ResourceEventHandlerDetailedFuncs) { h.OnAdd(cm("1"), true) },
		},
		{
			name: "later add",
			call: func(h cache.ResourceEventHandlerDetailedFuncs) { h.OnAdd(cm("1"), false) },
			want: []event{{GVR: cmGVR, Op: "CREATE", Key: "ns1/a", RV: "1"}},
		},
		{
			name: "update with the same resourceVersion dropped",
			call: func(h cache.ResourceEventHandlerDetailedFuncs) { h.OnUpdate(cm("1"), cm("1")) },
		},
		{
			name: "update without resourceVersions forwarded",
			call: func(h cache.ResourceEventHandlerDetailedFuncs) { h.OnUpdate(cm(""), cm("")) },
			want: []event{{GVR: cmGVR, Op: "UPDATE", Key: "ns1/a"}},
		},
		{
			name: "update",
			call: func(h cache.ResourceEventHandlerDetailedFuncs) { h.OnUpdate(cm("1"), cm("2")) },
			want: []event{{GVR: cmGVR, Op: "UPDATE", Key: "ns1/a", RV: "2"}},
		},
		{
			name: "delete",
			call: func(h cache.ResourceEventHandlerDetailedFuncs) { h.OnDelete(cm("2")) },
			want: []event{{GVR: cmGVR, Op: "DELETE", Key: "ns1/a", RV: "2"}},
		},
		{
			name: "delete seen by a relist is unwrapped",
			call: func(h cache.ResourceEventHandlerDetailedFuncs) {
				h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns1/a", Obj: cm("2")})
			},
			want: []event{{GVR: cmGVR, Op: "DELETE", Key: "ns1/a", RV: "2"}},
		},
		{
			name: "not an object dropped",
			call: func(h cache.ResourceEventHandlerDetailedFuncs) {
				h.OnDelete(cache.DeletedFinalStateUnknown{Key: "ns1/a"})
			},
		},
		{
			name:    "stopped entry forwards nothing",
			stopped: true,
			call:    func(h cache.ResourceEventHandlerDetailedFuncs) { h.OnAdd(cm("1"), false) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &entry{}
			e.res.Store(&cmRes)
			e.ctx, e.cancel = context.WithCancel(context.Background())
			defer e.cancel()
			if tt.stopped {
				e.cancel()
			}
			rec := newRecorder()
			tt.call(eventHandler(slog.New(slog.DiscardHandler), e, rec))
			if diff := cmp.Diff(tt.want, rec.drained()); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// lastApplied is the annotation `kubectl apply` keeps: a full copy of the object.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

func TestStripObject(t *testing.T) {
	in := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{
			"name": "a", "namespace": "ns", "resourceVersion": "7", "uid": "u",
			"managedFields": []any{map[string]any{"manager": "kubectl"}},
			"annotations":   map[string]any{lastApplied: "{}", "keep": "me"},
			"labels":        map[string]any{"app": "a"},
		},
		"data": map[string]any{"k": "v"},
	}}
	out, err := (&Informers{}).strip(in)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := out.(*snapshot.Cached)
	if !ok {
		t.Fatalf("strip = %T, want *snapshot.Cached", out)
	}
	if c.GetName() != "a" || c.GetNamespace() != "ns" || c.GetResourceVersion() != "7" || c.GetLabels()["app"] != "a" ||
		c.GetAnnotations()["keep"] != "me" || c.GetAnnotations()[lastApplied] != "" {
		t.Errorf("cached metadata = %+v", c.GetObjectMeta())
	}
	full, err := snapshot.NewRendering(c).Plain(snapshot.Full)
	want, _ := snapshot.Plain(in)
	if err != nil || string(full) != string(want) {
		t.Errorf("rendered from the cache = %q, %v; want %q", full, err, want)
	}
	t.Run("a cached value is kept", func(t *testing.T) {
		if again, err := (&Informers{}).strip(c); err != nil || again != c {
			t.Errorf("(&Informers{}).strip(cached) = %v, %v; want it unchanged", again, err)
		}
	})
	t.Run("other types pass through", func(t *testing.T) {
		in := cache.DeletedFinalStateUnknown{Key: "k"}
		out, err := (&Informers{}).strip(in)
		if err != nil || out != in {
			t.Errorf("(&Informers{}).strip(%v) = %v, %v", in, out, err)
		}
	})
}
