package destination

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// TestExcludeFieldManagers: an object is left out when every manager of its non-status
// fields is excluded, as the informer cache keeps it and as a list gives it; a status writer
// or an object without managedFields changes nothing.
func TestExcludeFieldManagers(t *testing.T) {
	src := Source{
		Resource:        discovery.Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Kind: "ConfigMap", Namespaced: true},
		ExcludeManagers: map[string]bool{"kustomize-controller": true, "argocd-controller": true},
	}
	entry := func(manager, subresource, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationApply, Subresource: subresource,
			FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}}
	}
	const data, status = `{"f:data":{"f:k":{}}}`, `{"f:status":{"f:phase":{}}}`
	tests := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    bool // accepted
	}{
		{"no managedFields", nil, true},
		{"a GitOps tool's", []metav1.ManagedFieldsEntry{entry("kustomize-controller", "", data)}, false},
		{"two GitOps tools'", []metav1.ManagedFieldsEntry{entry("kustomize-controller", "", data), entry("argocd-controller", "", data)}, false},
		{"a tool's, and a status writer's", []metav1.ManagedFieldsEntry{entry("kustomize-controller", "", data), entry("kubelet", "status", status), entry("old", "", status)}, false},
		{"a tool's, edited by hand", []metav1.ManagedFieldsEntry{entry("kustomize-controller", "", data), entry("kubectl-edit", "", `{"f:metadata":{"f:labels":{"f:x":{}}}}`)}, true},
		{"someone else's", []metav1.ManagedFieldsEntry{entry("kubectl", "", data)}, true},
		{"a tool's, and an entry without fields", []metav1.ManagedFieldsEntry{entry("kustomize-controller", "", data), {Manager: "odd", Operation: metav1.ManagedFieldsOperationUpdate}}, true},
		{"a tool's, and fields that do not parse", []metav1.ManagedFieldsEntry{entry("kustomize-controller", "", data), entry("odd", "", "{")}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a", "namespace": "ns"}, "data": map[string]any{"k": "v"}}}
			u.SetManagedFields(tc.entries)
			if got := src.Accepts(u); got != tc.want {
				t.Errorf("Accepts(listed) = %v, want %v", got, tc.want)
			}
			if got := src.Accepts(snapshot.Compact(u)); got != tc.want {
				t.Errorf("Accepts(cached) = %v, want %v", got, tc.want)
			}
		})
	}
	if src.Excludes("") || (Source{ExcludeUsers: map[string]bool{"flux": true}}).Excludes("jane") || !(Source{ExcludeUsers: map[string]bool{"flux": true}}).Excludes("flux") {
		t.Error("Excludes: want only the named user excluded, never an unknown one")
	}
}
