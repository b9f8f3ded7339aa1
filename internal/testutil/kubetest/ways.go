package kubetest

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/kubernetes/scheme"
)

// lastApplied is the annotation client-side kubectl apply keeps the applied manifest in.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// CreateAs creates obj as field manager, as `kubectl create` does (an Update that owns every
// field it sent and every default), and returns it as stored.
func (c *Client) CreateAs(t testing.TB, obj *unstructured.Unstructured, manager string) *unstructured.Unstructured {
	t.Helper()
	got, err := c.Resource(t, obj).Create(context.Background(), obj, metav1.CreateOptions{FieldManager: manager})
	if err != nil {
		t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return got
}

// ServerSideApply applies obj as manager, forcing conflicts, as `kubectl apply --server-side`
// and Flux do, and returns it as stored.
func (c *Client) ServerSideApply(t testing.TB, obj *unstructured.Unstructured, manager string) *unstructured.Unstructured {
	t.Helper()
	got, err := c.Resource(t, obj).Apply(context.Background(), obj.GetName(), obj, metav1.ApplyOptions{FieldManager: manager, Force: true})
	if err != nil {
		t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return got
}

// ClientSideApply applies obj as client-side `kubectl apply` does and returns it as stored: a
// new object is created with obj in its last-applied-configuration annotation; an existing one
// gets the three-way patch of that annotation, obj and the live object (strategic merge for a
// kind client-go knows, JSON merge otherwise), and nothing is sent when the patch is empty.
// obj is not modified.
func (c *Client) ClientSideApply(t testing.TB, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	ri := c.Resource(t, obj)
	ctx := context.Background()
	manifest, err := obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	obj = obj.DeepCopy()
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[lastApplied] = string(manifest) + "\n"
	obj.SetAnnotations(ann)
	live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return c.CreateAs(t, obj, "kubectl-client-side-apply")
	} else if err != nil {
		t.Fatalf("get %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	modified, err := obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	current, err := live.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	original := []byte(live.GetAnnotations()[lastApplied])
	var patch []byte
	pt := types.MergePatchType
	if typed, err := scheme.Scheme.New(obj.GroupVersionKind()); err == nil {
		meta, err := strategicpatch.NewPatchMetaFromStruct(typed)
		if err != nil {
			t.Fatal(err)
		}
		if patch, err = strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, true); err != nil {
			t.Fatalf("patch of %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		pt = types.StrategicMergePatchType
	} else if patch, err = jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, current); err != nil {
		t.Fatalf("patch of %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	if string(patch) == "{}" {
		return live
	}
	got, err := ri.Patch(ctx, obj.GetName(), pt, patch, metav1.PatchOptions{FieldManager: "kubectl-client-side-apply"})
	if err != nil {
		t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return got
}
