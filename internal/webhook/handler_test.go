package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestHandlerRecords(t *testing.T) {
	oldCM, newCM := configMap("shop", "app", "one"), configMap("shop", "app", "two")
	generated := configMap("shop", "app-x7k2q", "one")
	deployment := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec":     map[string]any{"replicas": int64(2)},
	}}
	namespace := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "team-a"},
	}}
	scale := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling/v1", "kind": "Scale",
		"metadata": map[string]any{"name": "web", "namespace": "shop"}, "spec": map[string]any{"replicas": int64(5)},
	}}
	undecodable := &unstructured.Unstructured{Object: map[string]any{"metadata": map[string]any{"name": "x"}}}
	key := func(op change.Op, name string, obj *unstructured.Unstructured) Key {
		return Key{Resource: "configmaps", Namespace: "shop", Name: name, Op: op, Hash: mustHash(t, obj)}
	}
	tests := []struct {
		name   string
		review reviewSpec
		want   map[Key]string
		result string
	}{
		{
			name:   "create",
			review: reviewSpec{Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: newCM, User: "jane@acme.com"},
			want:   map[Key]string{key(change.Create, "app", newCM): "jane@acme.com"},
			result: ResultRecorded,
		},
		{
			name:   "update hashes the new object",
			review: reviewSpec{Op: admissionv1.Update, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: newCM, OldObject: oldCM, User: "system:serviceaccount:team:bot"},
			want:   map[Key]string{key(change.Update, "app", newCM): "system:serviceaccount:team:bot"},
			result: ResultRecorded,
		},
		{
			name:   "delete records who asked, whatever state the object ends in",
			review: reviewSpec{Op: admissionv1.Delete, GVR: configMapsGVR, Namespace: "shop", Name: "app", OldObject: oldCM, User: "jane@acme.com"},
			want:   map[Key]string{{Resource: "configmaps", Namespace: "shop", Name: "app", Op: change.Delete}: "jane@acme.com"},
			result: ResultRecorded,
		},
		{
			name:   "a namespace's own request names it as its namespace; the key has none",
			review: reviewSpec{Op: admissionv1.Create, GVR: schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}, Namespace: "team-a", Name: "team-a", Object: namespace, User: "jane@acme.com"},
			want:   map[Key]string{{Resource: "namespaces", Name: "team-a", Op: change.Create, Hash: mustHash(t, namespace)}: "jane@acme.com"},
			result: ResultRecorded,
		},
		{
			name:   "scale counts for the parent with its replicas",
			review: reviewSpec{Op: admissionv1.Update, GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, SubResource: "scale", Namespace: "shop", Name: "web", Object: scale, OldObject: scale, User: "jane@acme.com"},
			want:   map[Key]string{scaleKey("apps", "deployments", "shop", "web", 5): "jane@acme.com"},
			result: ResultRecorded,
		},
		{
			name:   "generateName: the name comes from the object",
			review: reviewSpec{Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Object: generated, User: "jane@acme.com"},
			want:   map[Key]string{key(change.Create, "app-x7k2q", generated): "jane@acme.com"},
			result: ResultRecorded,
		},
		{
			name:   "group from the request resource",
			review: reviewSpec{Op: admissionv1.Create, GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Namespace: "shop", Name: "web", Object: deployment, User: "jane@acme.com"},
			want:   map[Key]string{{Group: "apps", Resource: "deployments", Namespace: "shop", Name: "web", Op: change.Create, Hash: mustHash(t, deployment)}: "jane@acme.com"},
			result: ResultRecorded,
		},
		{
			name:   "dry run",
			review: reviewSpec{Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: newCM, User: "jane@acme.com", DryRun: true},
			result: ResultDryRun,
		},
		{
			name:   "subresource",
			review: reviewSpec{Op: admissionv1.Update, GVR: configMapsGVR, SubResource: "status", Namespace: "shop", Name: "app", Object: newCM, OldObject: oldCM, User: "jane@acme.com"},
			result: ResultSkipped,
		},
		{
			name:   "connect",
			review: reviewSpec{Op: admissionv1.Connect, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: newCM, User: "jane@acme.com"},
			result: ResultSkipped,
		},
		{
			name:   "delete without old object",
			review: reviewSpec{Op: admissionv1.Delete, GVR: configMapsGVR, Namespace: "shop", Name: "app", User: "jane@acme.com"},
			result: ResultSkipped,
		},
		{
			name:   "no username",
			review: reviewSpec{Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: newCM},
			result: ResultSkipped,
		},
		{
			name:   "object without kind",
			review: reviewSpec{Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "x", Object: undecodable, User: "jane@acme.com"},
			result: ResultError,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, res := &recorded{}, &results{}
			h := NewHandler(rec, HandlerOptions{Observe: res.observe})
			tc.review.UID = "uid-" + tc.name
			w := serveOne(h, tc.review.body(t))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if uid := allowedUID(t, w.Body.Bytes()); uid != tc.review.UID {
				t.Errorf("response uid %q, want %q", uid, tc.review.UID)
			}
			if diff := cmp.Diff(tc.want, rec.all(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("recorded (-want +got):\n%s", diff)
			}
			if res.count(tc.result) != 1 {
				t.Errorf("results %v, want one %q", res.n, tc.result)
			}
		})
	}
}

// serveOne sends body as the apiserver does and returns the recorded response.
func serveOne(h http.Handler, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// panicky is a Recorder that panics, standing in for any bug behind the handler.
type panicky struct{}

func (panicky) Record(Key, string) { panic("boom") }

func TestHandlerRecorderPanicStillAllows(t *testing.T) {
	res := &results{}
	h := NewHandler(panicky{}, HandlerOptions{Observe: res.observe})
	for _, uid := range []string{"first", "second"} {
		body := reviewSpec{UID: uid, Op: admissionv1.Create, GVR: configMapsGVR, Namespace: "shop", Name: "app", Object: configMap("shop", "app", "v"), User: "jane@acme.com"}.body(t)
		w := serveOne(h, body)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", uid, w.Code, w.Body)
		}
		if got := allowedUID(t, w.Body.Bytes()); got != uid {
			t.Errorf("uid %q, want %q", got, uid)
		}
	}
	if res.count(ResultError) != 2 {
		t.Errorf("results %v, want two %q", res.n, ResultError)
	}
}
