package snapshot

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

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

// TestCompactHeapPerObject reports the live heap an informer cache holds per ~1 KiB
// ConfigMap: the cached values of 10,000 of them, kept reachable, after a GC.
func TestCompactHeapPerObject(t *testing.T) {
	const n = 10000
	cached := make([]any, n)
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
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
