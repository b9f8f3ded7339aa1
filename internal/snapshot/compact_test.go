package snapshot

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

// goldenObjects are the live objects of the golden tests, by file name.
func goldenObjects(t *testing.T) map[string]*unstructured.Unstructured {
	t.Helper()
	var files []string
	for _, dir := range []string{sanitizeDir, cleanDir} {
		f, err := filepath.Glob(filepath.Join(dir, "*.in.yaml"))
		if err != nil || len(f) == 0 {
			t.Fatalf("no golden objects in %s: %v", dir, err)
		}
		files = append(files, f...)
	}
	objs := map[string]*unstructured.Unstructured{}
	for _, f := range files {
		objs[f] = readObject(t, f)
	}
	return objs
}

// TestCompactKeepsFiles: a cached object gives the same files, byte for byte, as rendering
// the object, and the same identity and metadata as it but the annotations files leave out.
func TestCompactKeepsFiles(t *testing.T) {
	for file, obj := range goldenObjects(t) {
		t.Run(file, func(t *testing.T) {
			cached := Compact(obj)
			if obj.GetKind() == "ServiceAccount" {
				if cached != Object(obj) {
					t.Fatalf("a ServiceAccount is cached as %T, want it whole", cached)
				}
				return
			}
			c, ok := cached.(*Cached)
			if !ok {
				t.Fatalf("Compact = %T, want *Cached", cached)
			}
			if Compact(c) != Object(c) {
				t.Error("compacting a cached value made a new one")
			}
			r := NewRendering(c)
			for _, o := range []Output{Full, Clean} {
				want, err := PlainFor(obj, o)
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.Plain(o)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s file from the cache (-rendered +cached):\n%s", o, diff)
				}
			}
			assertSameMetadata(t, obj, c)
		})
	}
}

func assertSameMetadata(t *testing.T, obj *unstructured.Unstructured, c *Cached) {
	t.Helper()
	type metadata struct {
		APIVersion, Kind, Name, Namespace, ResourceVersion string
		Labels, Annotations                                map[string]string
		OwnerReferences                                    []metav1.OwnerReference
		Replicas                                           int64
		HasReplicas, Secret                                bool
	}
	of := func(o Object) metadata {
		m := metadata{
			APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Name: o.GetName(), Namespace: o.GetNamespace(),
			ResourceVersion: o.GetResourceVersion(), Labels: o.GetLabels(), Annotations: o.GetAnnotations(),
			OwnerReferences: o.GetOwnerReferences(), Secret: IsSecret(o),
		}
		m.Replicas, m.HasReplicas = Replicas(o)
		if len(m.Labels) == 0 {
			m.Labels = nil
		}
		for _, k := range serverAnnotations {
			delete(m.Annotations, k)
		}
		if len(m.Annotations) == 0 {
			m.Annotations = nil
		}
		return m
	}
	if diff := cmp.Diff(of(obj), of(c)); diff != "" {
		t.Errorf("metadata (-object +cached):\n%s", diff)
	}
	for k, v := range obj.GetLabels() {
		if got, ok := LabelsOf(c).Lookup(k); !ok || got != v {
			t.Errorf("label %s = %q, %v; want %q", k, got, ok, v)
		}
	}
}

func TestCompactSecret(t *testing.T) {
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "s", "namespace": "ns"},
		"data":     map[string]any{"k": "dg=="},
	}}
	c := Compact(secret)
	if !IsSecret(c) {
		t.Error("a cached Secret is not a Secret")
	}
	plain, err := NewRendering(c).Plain(Full)
	want, _ := Plain(secret)
	if err != nil || string(plain) != string(want) {
		t.Errorf("cached Secret's plaintext = %q, %v; want %q", plain, err, want)
	}
}

// TestCompactNotRendered: an object that cannot be rendered is cached with the reason, and
// reading its file gives that error in both modes.
func TestCompactNotRendered(t *testing.T) {
	obj := &unstructured.Unstructured{}
	doc := `{"apiVersion":"example.com/v1","kind":"Deep","metadata":{"name":"d","namespace":"ns"},"spec":` + nested(MaxDepth, false) + `}`
	if err := obj.UnmarshalJSON([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	_, want := PlainFor(obj, Full)
	if want == nil {
		t.Fatal("the object renders")
	}
	r := NewRendering(Compact(obj))
	for _, o := range []Output{Full, Clean} {
		if b, err := r.Plain(o); err == nil || err.Error() != want.Error() || b != nil {
			t.Errorf("%s: %q, %v; want error %q", o, b, err, want)
		}
	}
}

// TestCompactSelectors: label selectors match a cached object as they match the object.
func TestCompactSelectors(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}
	obj.SetName("a")
	obj.SetLabels(map[string]string{"app": "shop", "tier": "web", "a.example.com/x": "", "zz": "9"})
	c := Compact(obj)
	for _, s := range []string{
		"", "app=shop", "app!=shop", "app=other", "app in (shop,web)", "tier notin (web)", "a.example.com/x",
		"!a.example.com/x", "missing", "!missing", "zz>5", "zz<5", "app=shop,tier=web", "app=shop,tier=db", "a.example.com/x=",
	} {
		sel, err := labels.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sel.Matches(LabelsOf(c)), sel.Matches(labels.Set(obj.GetLabels())); got != want {
			t.Errorf("%q matches the cached object: %v, the object: %v", s, got, want)
		}
	}
	if LabelsOf(Compact(&unstructured.Unstructured{Object: map[string]any{"kind": "X"}})).Has("") {
		t.Error("an object without labels has one")
	}
}

// TestCachedInClientGoStore: client-go's store keys, indexes and tombstones a cached value as
// it does the object.
func TestCachedInClientGoStore(t *testing.T) {
	obj := readObject(t, filepath.Join(cleanDir, "replicaset-controller-made.in.yaml"))
	cluster := readObject(t, filepath.Join(cleanDir, "crd-server-side-apply.in.yaml"))
	for _, o := range []*unstructured.Unstructured{obj, cluster} {
		c := Compact(o)
		for name, fn := range map[string]cache.KeyFunc{
			"MetaNamespaceKeyFunc":                 cache.MetaNamespaceKeyFunc,
			"DeletionHandlingMetaNamespaceKeyFunc": cache.DeletionHandlingMetaNamespaceKeyFunc,
		} {
			want, _ := fn(o)
			if got, err := fn(c); err != nil || got != want {
				t.Errorf("%s(cached) = %q, %v; want %q", name, got, err, want)
			}
		}
		want, _ := cache.MetaNamespaceIndexFunc(o)
		if got, err := cache.MetaNamespaceIndexFunc(c); err != nil || !cmp.Equal(got, want) {
			t.Errorf("MetaNamespaceIndexFunc(cached) = %q, %v; want %q", got, err, want)
		}
		m, err := meta.Accessor(c)
		if err != nil || m.GetResourceVersion() != o.GetResourceVersion() || !cmp.Equal(m.GetOwnerReferences(), o.GetOwnerReferences()) {
			t.Errorf("meta.Accessor(cached) = %+v, %v", m, err)
		}
	}

	indexer := cache.NewIndexer(cache.DeletionHandlingMetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	c := Compact(obj)
	key, _ := cache.MetaNamespaceKeyFunc(obj)
	if err := indexer.Add(c); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := indexer.GetByKey(key); err != nil || !ok || got != c {
		t.Errorf("GetByKey(%q) = %v, %v, %v; want the cached value", key, got, ok, err)
	}
	if got, err := indexer.ByIndex(cache.NamespaceIndex, obj.GetNamespace()); err != nil || len(got) != 1 || got[0] != c {
		t.Errorf("ByIndex(namespace %q) = %v, %v; want the cached value", obj.GetNamespace(), got, err)
	}
	if err := indexer.Delete(cache.DeletedFinalStateUnknown{Key: key, Obj: c}); err != nil {
		t.Fatal(err)
	}
	if keys := indexer.ListKeys(); len(keys) != 0 {
		t.Errorf("after deleting the tombstone: %v", keys)
	}
}

// liveConfigMap is the JSON of ConfigMap i as the API server returns it to an informer: a
// ~1 KiB payload, a label, and the managedFields entry of the client that created it (the
// objects of `make bench`'s memory benchmark).
func liveConfigMap(i int) []byte {
	return fmt.Appendf(nil, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"mem-%06d","namespace":"mem-%02d",`+
		`"uid":"0c6a5a4e-4b1f-4a55-9d0e-%012d","resourceVersion":"%d","creationTimestamp":"2026-07-01T10:00:00Z",`+
		`"labels":{"bench":"memory"},"managedFields":[{"manager":"bench.test","operation":"Update","apiVersion":"v1",`+
		`"time":"2026-07-01T10:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:index":{},"f:payload":{}},`+
		`"f:metadata":{"f:labels":{".":{},"f:bench":{}}}}}]},"data":{"index":"%d","payload":"%s"}}`,
		i, i%20, i, 1000+i, i, strings.Repeat("x", 924))
}

// maxHeapPerObject bounds the live heap of one cached ConfigMap of liveConfigMap: its ~1 KiB
// file and a few hundred bytes (the compact unstructured object it replaced took 2,373).
const maxHeapPerObject = 1700

// TestCompactHeapPerObject reports the live heap an informer cache holds per ~1 KiB
// ConfigMap: the cached values of 10,000 of them, kept reachable, after a GC.
func TestCompactHeapPerObject(t *testing.T) {
	const n = 10000
	cached := make([]Object, n)
	before := liveHeap()
	for i := range cached {
		obj := &unstructured.Unstructured{}
		if err := obj.UnmarshalJSON(liveConfigMap(i)); err != nil {
			t.Fatal(err)
		}
		cached[i] = Compact(obj)
	}
	perObject := float64(liveHeap()-before) / n
	runtime.KeepAlive(cached)
	t.Logf("live heap per cached ConfigMap: %.0f bytes", perObject)
	if perObject > maxHeapPerObject {
		t.Errorf("live heap per cached ConfigMap = %.0f bytes, want at most %d", perObject, maxHeapPerObject)
	}
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
