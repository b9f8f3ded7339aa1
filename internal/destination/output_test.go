package destination

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// applied is a ConfigMap whose managedFields own only data.a: b was not set by anyone.
func applied() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "app", "namespace": "shop", "managedFields": []any{map[string]any{
			"apiVersion": "v1", "manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1",
			"fieldsV1": map[string]any{"f:data": map[string]any{"f:a": map[string]any{}}},
		}}},
		"data": map[string]any{"a": "1", "b": "2"},
	}}
}

func TestOutputOfSpec(t *testing.T) {
	res := discovery.Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}}
	tests := []struct {
		output  v1alpha1.Output
		want    snapshot.Output
		hasB    bool
		wantErr bool
	}{
		{output: "", want: snapshot.Clean},
		{output: v1alpha1.OutputClean, want: snapshot.Clean},
		{output: v1alpha1.OutputFull, want: snapshot.Full, hasB: true},
		{output: "Neat", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(string(tc.output), func(t *testing.T) {
			d := &v1alpha1.GitDestination{Spec: v1alpha1.GitDestinationSpec{URL: "file:///x.git", Output: tc.output}}
			d.Name, d.Namespace = "git", "shop"
			target, err := fromSpec(context.Background(), Clients{}, d)
			if tc.wantErr {
				if err == nil || !strings.Contains(err.Error(), "spec.output") || reasonOf(err) != v1alpha1.ReasonInvalidSpec {
					t.Fatalf("fromSpec = %v, want an InvalidSpec error naming spec.output", err)
				}
				return
			}
			if err != nil || target.Output != tc.want {
				t.Fatalf("fromSpec: Output %q, %v; want %q", target.Output, err, tc.want)
			}
			f, err := target.File(res, applied())
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(f.Content), "b: \"2\""); got != tc.hasB {
				t.Errorf("file holds the unowned b: %v, want %v:\n%s", got, tc.hasB, f.Content)
			}
			cached, err := target.File(res, snapshot.Compact(applied()))
			if err != nil || string(cached.Content) != string(f.Content) {
				t.Errorf("file of the cached object = %q, %v; want %q", cached.Content, err, f.Content)
			}
		})
	}
}
