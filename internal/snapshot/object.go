package snapshot

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is what routing and writing read of a live object: an *unstructured.Unstructured
// listed from the API server or kept by an informer cache (Compact).
// Values are shared: callers read them and never modify what the getters return.
type Object interface {
	GetAPIVersion() string
	GetKind() string
	GetName() string
	GetNamespace() string
	GetResourceVersion() string
	GetLabels() map[string]string
	GetAnnotations() map[string]string
	GetOwnerReferences() []metav1.OwnerReference
}

var (
	_ Object = (*unstructured.Unstructured)(nil)
)

// LabelsOf is obj's labels for a label selector.
func LabelsOf(obj Object) labels.Labels {
	return labels.Set(obj.GetLabels())
}

// AnnotationsOf is obj's annotations to look up, as LabelsOf.
func AnnotationsOf(obj Object) labels.Labels {
	return labels.Set(obj.GetAnnotations())
}

// Replicas is obj's spec.replicas, what a write through the scale subresource sets; ok is
// false when it has none.
func Replicas(obj Object) (replicas int64, ok bool) {
	u, isUnstructured := obj.(*unstructured.Unstructured)
	if !isUnstructured {
		return 0, false
	}
	r, found, err := unstructured.NestedInt64(u.Object, "spec", "replicas")
	return r, found && err == nil
}

// groupKind is obj's API group and kind.
func groupKind(obj Object) schema.GroupKind {
	return schema.FromAPIVersionAndKind(obj.GetAPIVersion(), obj.GetKind()).GroupKind()
}
