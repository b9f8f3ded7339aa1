package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/webhook"
)

// TestAuthor: the author of an event is found from the object as the informer cache keeps
// it, for a write of the whole object and for one through the scale subresource.
func TestAuthor(t *testing.T) {
	deployments := discovery.Resource{GVR: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, Namespaced: true, Scale: true}
	deployment := func(replicas int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "web", "namespace": "shop", "resourceVersion": "3"},
			"spec":     map[string]any{"replicas": replicas},
		}}
	}
	written, err := snapshot.Plain(deployment(2))
	if err != nil {
		t.Fatal(err)
	}
	authors := webhook.NewCache(10, time.Minute)
	authors.Record(webhook.Key{Group: "apps", Resource: "deployments", Namespace: "shop", Name: "web", Operation: webhook.OpUpdate, Hash: snapshot.Hash(written)}, "alice")
	authors.Record(webhook.ScaleKey("apps", "deployments", "shop", "web", 5), "bob")
	mg := &manager{authors: authors}
	tests := []struct {
		name     string
		replicas int64
		want     string
	}{
		{"the object as written", 2, "alice"},
		{"scaled", 5, "bob"},
		{"nobody's", 7, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := snapshot.Compact(deployment(tc.replicas))
			if _, cached := obj.(*snapshot.Cached); !cached {
				t.Fatalf("Compact = %T, want *snapshot.Cached", obj)
			}
			plain, err := snapshot.NewRendering(obj).Plain(snapshot.Full)
			if err != nil {
				t.Fatal(err)
			}
			if got := mg.author(deployments, discovery.OpUpdate, obj, snapshot.Hash(plain)); got != tc.want {
				t.Errorf("author = %q, want %q", got, tc.want)
			}
		})
	}
}
