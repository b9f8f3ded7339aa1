package webhook

import (
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// TestAuthor: the watch side finds the author the admission side recorded, from the object as
// the informer cache keeps it: a write of the whole object, one through the scale subresource,
// and a delete.
func TestAuthor(t *testing.T) {
	deployments := discovery.Resource{GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Namespaced: true, Scale: true}
	deployment := func(replicas int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "namespace": "shop", "resourceVersion": "3"},
			"spec":     map[string]any{"replicas": replicas},
		}}
	}
	scale := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling/v1", "kind": "Scale",
		"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec":     map[string]any{"replicas": int64(5)},
	}}
	authors := NewCache(10, time.Minute)
	h := NewHandler(authors, HandlerOptions{})
	for _, s := range []reviewSpec{
		{UID: "1", GVR: deployments.GVR, Namespace: "shop", Name: "web", Op: admissionv1.Update, User: "alice", Object: deployment(2)},
		{UID: "2", GVR: deployments.GVR, SubResource: "scale", Namespace: "shop", Name: "web", Op: admissionv1.Update, User: "bob", Object: scale},
		{UID: "3", GVR: deployments.GVR, Namespace: "shop", Name: "web", Op: admissionv1.Delete, User: "carol", OldObject: deployment(7)},
	} {
		if w := serveOne(h, s.body(t)); w.Code != 200 {
			t.Fatalf("review %s: status %d", s.UID, w.Code)
		}
	}
	tests := []struct {
		name     string
		op       change.Op
		replicas int64
		want     string
	}{
		{"the object as written", change.Update, 2, "alice"},
		{"scaled", change.Update, 5, "bob"},
		{"nobody's", change.Update, 7, ""},
		{"created, but the write was an update", change.Create, 2, ""},
		{"deleted, whatever its last state", change.Delete, 9, "carol"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := snapshot.Compact(deployment(tc.replicas))
			if _, cached := obj.(*snapshot.Cached); !cached {
				t.Fatalf("Compact = %T, want *snapshot.Cached", obj)
			}
			full, err := snapshot.NewRendering(obj).Plain(snapshot.Full)
			if err != nil {
				t.Fatal(err)
			}
			if got := authors.Author(deployments, tc.op, obj, full); got != tc.want {
				t.Errorf("Author = %q, want %q", got, tc.want)
			}
		})
	}
}
