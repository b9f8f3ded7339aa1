package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// configMap is a ConfigMap as a client would send it, with the server-owned fields an
// admission request carries.
func configMap(ns, name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{
			"name": name, "namespace": ns, "uid": "u-1", "creationTimestamp": "2024-01-01T00:00:00Z",
			"managedFields": []any{map[string]any{"manager": "kubectl"}},
		},
		"data": map[string]any{"k": value},
	}}
}

// reviewSpec describes one admission request.
type reviewSpec struct {
	UID         string
	Op          admissionv1.Operation
	GVR         schema.GroupVersionResource
	SubResource string
	Namespace   string
	Name        string
	Object      *unstructured.Unstructured
	OldObject   *unstructured.Unstructured
	User        string
	DryRun      bool
}

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func (s reviewSpec) body(t testing.TB) []byte {
	t.Helper()
	req := &admissionv1.AdmissionRequest{
		UID:         types.UID(s.UID),
		Kind:        metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"},
		Resource:    metav1.GroupVersionResource{Group: s.GVR.Group, Version: s.GVR.Version, Resource: s.GVR.Resource},
		SubResource: s.SubResource,
		Namespace:   s.Namespace,
		Name:        s.Name,
		Operation:   s.Op,
		UserInfo:    authenticationv1.UserInfo{Username: s.User, Groups: []string{"system:authenticated"}},
		DryRun:      &s.DryRun,
	}
	if s.Object != nil {
		req.Object = runtime.RawExtension{Raw: mustJSON(t, s.Object.Object)}
	}
	if s.OldObject != nil {
		req.OldObject = runtime.RawExtension{Raw: mustJSON(t, s.OldObject.Object)}
	}
	return mustJSON(t, admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request:  req,
	})
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustHash(t testing.TB, obj *unstructured.Unstructured) string {
	t.Helper()
	h, err := ObjectHash(obj)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// recorded is a Recorder that keeps everything, for handler tests.
type recorded struct {
	mu   sync.Mutex
	keys map[Key]string
}

func (r *recorded) Record(k Key, username string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys == nil {
		r.keys = map[Key]string{}
	}
	r.keys[k] = username
}

func (r *recorded) all() map[Key]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[Key]string{}
	for k, v := range r.keys {
		out[k] = v
	}
	return out
}

// results counts Observe calls by result.
type results struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *results) observe(result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[string]int{}
	}
	r.n[result]++
}

func (r *results) count(result string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[result]
}

// serve starts s until the test ends (or stop is called) and returns stop, which waits for
// Start to return and fails the test on a serving error.
func serve(t testing.TB, s *Server) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// startServer serves h on a free loopback port with a self-signed certificate.
func startServer(t testing.TB, h http.Handler) (*Server, func()) {
	t.Helper()
	s, err := NewServer(ServerOptions{Addr: "127.0.0.1:0", Handler: h, DNSNames: ServiceDNSNames("gitops-reverser-webhook", "gitops-reverser")})
	if err != nil {
		t.Fatal(err)
	}
	return s, serve(t, s)
}

// httpsClient trusts caPEM only.
func httpsClient(t testing.TB, caPEM []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("CA bundle holds no certificate")
	}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
}

func validateURL(s *Server) string { return "https://" + s.Addr().String() + Path }

// post sends body and returns the status and response body.
func post(t testing.TB, c *http.Client, url, contentType string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := c.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read response: %v", err)
	}
	return resp.StatusCode, b
}

// allowedUID decodes an allow response and returns its uid; it fails unless allowed.
func allowedUID(t testing.TB, b []byte) string {
	t.Helper()
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &review); err != nil {
		t.Fatalf("response is not an AdmissionReview: %v: %s", err, b)
	}
	if review.APIVersion != "admission.k8s.io/v1" || review.Kind != "AdmissionReview" {
		t.Errorf("response type %s %s, want admission.k8s.io/v1 AdmissionReview", review.APIVersion, review.Kind)
	}
	if review.Response == nil || !review.Response.Allowed {
		t.Fatalf("response does not allow: %s", b)
	}
	return string(review.Response.UID)
}
