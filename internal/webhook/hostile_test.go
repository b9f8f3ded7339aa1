package webhook

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// Requests the API server would never send are refused with 400 before they cost anything.
func TestHandlerRefusesUnboundedInput(t *testing.T) {
	deep := deepConfigMap(snapshot.MaxDepth + 1)
	for name, c := range map[string]struct {
		spec   reviewSpec
		status int
		reason string
	}{
		"object nested too deep":     {reviewSpec{UID: "a", Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "deep", Object: deep, User: "jane"}, 400, "nested deeper than 100"},
		"old object nested too deep": {reviewSpec{UID: "b", Op: admissionv1.Delete, GVR: configMapsGVR, Namespace: "shop", Name: "deep", OldObject: deep, User: "jane"}, 400, "nested deeper than 100"},
		"username too long":          {reviewSpec{UID: "c", Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: configMap("shop", "app", "v"), User: strings.Repeat("u", MaxUsernameBytes+1)}, 400, "username longer than 1024"},
		"at the limits":              {reviewSpec{UID: "d", Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "deep", Object: deepConfigMap(snapshot.MaxDepth), User: strings.Repeat("u", MaxUsernameBytes)}, 200, `"allowed":true`},
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recorded{}
			w := serveOne(NewHandler(rec, HandlerOptions{}), c.spec.body(t))
			if w.Code != c.status || !strings.Contains(w.Body.String(), c.reason) {
				t.Errorf("got %d %q, want %d with %q", w.Code, w.Body, c.status, c.reason)
			}
			if got := len(rec.all()); (c.status == 200) != (got == 1) {
				t.Errorf("%d recorded", got)
			}
		})
	}
}

// deepConfigMap is a ConfigMap-shaped object whose maps nest depth deep in all.
func deepConfigMap(depth int) *unstructured.Unstructured {
	obj := configMap("shop", "deep", "v")
	var v any = "leaf"
	for range depth - 1 { // the object itself is the first level
		v = map[string]any{"a": v}
	}
	obj.Object["data"] = v
	return obj
}

// A few thousand hostile AdmissionReviews (huge names and usernames, deep and wide objects,
// truncated and corrupted JSON, wrong types) through the real HTTPS server with the default
// limits and cache: every one is answered 200 or 400, the server keeps working, and the
// process's resident memory stays within 100 MiB of where it started.
func TestServerHostileBodiesBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends a few thousand large requests")
	}
	const bodies, clients = 3000, 2
	cache := NewCache(DefaultCacheSize, DefaultCacheTTL)
	res := &results{}
	s, _ := startServer(t, NewHandler(cache, HandlerOptions{Observe: res.observe}))
	c := httpsClient(t, s.CABundle())
	url := validateURL(s)

	runtime.GC()
	debug.FreeOSMemory()
	start := rssBytes(t)
	var peak atomic.Int64
	peak.Store(start)
	stopSampling := sampleRSS(t, &peak)

	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		bad   sync.Map // status -> one example
		codes [600]atomic.Int64
	)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 11))
			for i := next.Add(1); i <= bodies; i = next.Add(1) {
				kind, body := hostileBody(t, rng, int(i))
				status, err := postStatus(c, url, body)
				if err != nil {
					bad.Store(kind, err.Error())
					continue
				}
				codes[status].Add(1)
				if status != http.StatusOK && status != http.StatusBadRequest {
					bad.Store(kind, strconv.Itoa(status))
				}
			}
		}()
	}
	wg.Wait()
	stopSampling()
	end := rssBytes(t)
	bad.Range(func(k, v any) bool {
		t.Errorf("%s: %v, want 200 or 400", k, v)
		return true
	})
	const mib = 1 << 20
	t.Logf("RSS start %d MiB, peak %d MiB, end %d MiB; %d answered 200, %d answered 400; cache %d entries; results %v",
		start/mib, peak.Load()/mib, end/mib, codes[200].Load(), codes[400].Load(), cache.Len(), res.n)
	if grown := peak.Load() - start; grown > 100*mib {
		t.Errorf("RSS grew by %d MiB (start %d MiB, peak %d MiB), want at most 100 MiB", grown/mib, start/mib, peak.Load()/mib)
	}
	if codes[200].Load() == 0 || codes[400].Load() == 0 {
		t.Errorf("want both allowed and refused requests, got %d and %d", codes[200].Load(), codes[400].Load())
	}
	// Still serving, and still recording.
	ok := reviewSpec{UID: "after", Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: configMap("shop", "app", "v"), User: "jane@acme.com"}
	if status, b := post(t, c, url, "application/json", ok.body(t)); status != http.StatusOK || allowedUID(t, b) != "after" {
		t.Fatalf("valid request after the hostile ones: %d %s", status, b)
	}
	if u, found := cache.Lookup(Key{Resource: "configmaps", Namespace: "shop", Name: "app", Op: change.Create, Hash: mustHash(t, ok.Object)}); !found || u != "jane@acme.com" {
		t.Errorf("author after the hostile requests: %q %v", u, found)
	}
}

// hostileBody is the i-th hostile request body and what kind it is.
func hostileBody(t *testing.T, rng *rand.Rand, i int) (string, []byte) {
	uid := "u" + strconv.Itoa(i)
	long := func(max int) string { return strings.Repeat("x", 1+rng.IntN(max)) + strconv.Itoa(i) }
	valid := reviewSpec{UID: uid, Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "app" + strconv.Itoa(i), Object: configMap("shop", "app"+strconv.Itoa(i), "v"), User: "jane@acme.com"}
	switch kind := i % 10; kind {
	case 0: // every key field at a length no API server sends: each one unique, so the cache fills
		name := long(64 << 10)
		obj := configMap(long(16<<10), name, "v")
		s := reviewSpec{UID: uid, Op: admissionv1.Update, GVR: schema.GroupVersionResource{Group: long(16 << 10), Version: "v1", Resource: long(16 << 10)}, Namespace: obj.GetNamespace(), Name: name, Object: obj, OldObject: obj, User: "jane"}
		return "long key fields", s.body(t)
	case 1:
		valid.User = long(64 << 10)
		return "long username", valid.body(t)
	case 2:
		return "deep object", deepBody(uid, 1000+rng.IntN(9000))
	case 3: // wide: many keys at the limit of nesting
		obj := configMap("shop", "wide"+strconv.Itoa(i), "v")
		data := map[string]any{}
		for j := range 1000 + rng.IntN(5000) {
			data[strconv.Itoa(j)] = strings.Repeat("v", rng.IntN(64))
		}
		obj.Object["data"] = data
		valid.Object = obj
		return "wide object", valid.body(t)
	case 4:
		b := valid.body(t)
		return "truncated", b[:rng.IntN(len(b))]
	case 5:
		b := valid.body(t)
		for range 1 + rng.IntN(8) {
			b[rng.IntN(len(b))] = byte(rng.IntN(256))
		}
		return "corrupted", b
	case 6:
		return "wrong types", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + uid + `","object":[1,2,3],"oldObject":"x","userInfo":{"username":"jane","groups":[` + strings.Repeat(`"g",`, rng.IntN(10000)) + `"g"]}}}`)
	case 7:
		return "not an object", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + uid + `","operation":"CREATE","object":` + strconv.Quote(long(256<<10)) + `,"userInfo":{"username":"jane"}}}`)
	case 8:
		s := reviewSpec{UID: uid, Op: admissionv1.Update, GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, SubResource: "scale", Namespace: "shop", Name: long(64 << 10), Object: configMap("shop", "s", "v"), User: "jane"}
		return "scale with a long name", s.body(t)
	default:
		return "deep arrays in the old object", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"` + uid + `","operation":"DELETE","oldObject":{"a":` + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + `},"userInfo":{"username":"jane"}}}`)
	}
}

// deepBody is a CREATE whose object nests depth deep, written directly: encoding/json refuses
// to write more than 10,000 levels, and building the map first would cost the test itself.
func deepBody(uid string, depth int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":%q,"operation":"CREATE","resource":{"version":"v1","resource":"configmaps"},"namespace":"shop","name":"deep","userInfo":{"username":"jane"},"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep","namespace":"shop"},"data":`, uid)
	b.WriteString(strings.Repeat(`{"a":`, depth))
	b.WriteString(`"leaf"`)
	b.WriteString(strings.Repeat("}", depth))
	b.WriteString("}}}")
	return b.Bytes()
}

func postStatus(c *http.Client, url string, body []byte) (int, error) {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = bufio.NewReader(resp.Body).WriteTo(discard{})
	return resp.StatusCode, nil
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// rssBytes is the process's resident set size (VmRSS in /proc/self/status).
func rssBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmRSS %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}

// sampleRSS keeps the highest RSS seen in peak until the returned stop is called.
func sampleRSS(t *testing.T, peak *atomic.Int64) (stop func()) {
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if r := rssBytes(t); r > peak.Load() {
					peak.Store(r)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}
