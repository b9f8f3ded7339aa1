package webhook

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// benchClients is how many requests are in flight at once: an apiserver under load calls
// a webhook over a handful of kept-alive connections.
const benchClients = 16

// BenchmarkHandler measures the webhook over real HTTPS on loopback: requests per second and
// p99 latency of UPDATE reviews of a ~2 KiB ConfigMap, each a new key, with the cache at its
// size limit (every record evicts). The baseline is the same server answering a fixed allow
// response after reading the body, so x-baseline is the share of its throughput kept.
func BenchmarkHandler(b *testing.B) {
	// Keep the result lines readable: the server logs when it starts and stops.
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.DiscardHandler))
	bodies := newReviewBodies(b)
	var baseline float64
	b.Run("baseline-fixed-allow", func(b *testing.B) {
		fixed := []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"x","allowed":true}}`)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(fixed)
		})
		baseline = runLoad(b, h, bodies)
	})
	b.Run("record-full-cache", func(b *testing.B) {
		cache := NewCache(DefaultCacheSize, DefaultCacheTTL)
		for i := range DefaultCacheSize {
			cache.Record(Key{Resource: "configmaps", Namespace: "prefill", Name: strconv.Itoa(i), Op: change.Update, Hash: "h"}, "u")
		}
		rps := runLoad(b, NewHandler(cache, HandlerOptions{}), bodies)
		if cache.Len() != DefaultCacheSize {
			b.Errorf("cache holds %d entries, want its limit %d", cache.Len(), DefaultCacheSize)
		}
		if baseline > 0 {
			b.ReportMetric(rps/baseline, "x-baseline")
		}
	})
}

// runLoad sends b.N requests from benchClients goroutines and reports req/s and p99-ms.
func runLoad(b *testing.B, h http.Handler, bodies *reviewBodies) (reqPerSec float64) {
	s, _ := startServer(b, h)
	c := httpsClient(b, s.CABundle())
	// One connection per client, kept alive: no handshakes while timing.
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = benchClients
	c.Transport.(*http.Transport).MaxConnsPerHost = benchClients
	url := validateURL(s)
	var next atomic.Int64
	var wg sync.WaitGroup
	latencies := make([][]time.Duration, benchClients)
	send := func(n int64) time.Duration {
		start := time.Now()
		if err := postOK(c, url, bodies.get(n)); err != nil {
			b.Error(err)
		}
		return time.Since(start)
	}
	for i := range benchClients { // open and keep the connections before timing
		send(int64(-1 - i))
	}
	b.ResetTimer()
	start := time.Now()
	for i := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
				latencies[i] = append(latencies[i], send(n))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	reqPerSec = float64(b.N) / elapsed.Seconds()
	b.ReportMetric(reqPerSec, "req/s")
	b.ReportMetric(float64(p99(slices.Concat(latencies...)))/float64(time.Millisecond), "p99-ms")
	return reqPerSec
}

func p99(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[(len(d)*99)/100]
}

// reviewBodies makes UPDATE reviews that differ only in the object's name, cheaply: the
// client's cost is the same for the baseline and the handler.
type reviewBodies struct {
	parts [][]byte // split around the name
}

const namePlaceholder = "NAME-PLACEHOLDER"

func newReviewBodies(b *testing.B) *reviewBodies {
	obj := func(value string) *unstructured.Unstructured {
		cm := configMap("bench", namePlaceholder, value)
		data := map[string]any{}
		for i := range 12 {
			data[fmt.Sprintf("key-%02d", i)] = value + string(bytes.Repeat([]byte("x"), 100))
		}
		cm.Object["data"] = data
		cm.SetLabels(map[string]string{"app.kubernetes.io/name": "shop", "app.kubernetes.io/part-of": "bench"})
		cm.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"v1"}`})
		return cm
	}
	body := reviewSpec{
		UID: "uid-" + namePlaceholder, Op: admissionv1.Update, GVR: configMapsGVR, Namespace: "bench", Name: namePlaceholder,
		Object: obj("new"), OldObject: obj("old"), User: "system:serviceaccount:team:bot",
	}.body(b)
	return &reviewBodies{parts: bytes.Split(body, []byte(namePlaceholder))}
}

func (r *reviewBodies) get(n int64) []byte {
	name := strconv.AppendInt([]byte("cm-"), n, 10)
	return bytes.Join(r.parts, name)
}

// postOK is post for goroutines other than the benchmark's: it returns what went wrong.
func postOK(c *http.Client, url string, body []byte) error {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return nil
}
