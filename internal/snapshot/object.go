package snapshot

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Object is what routing and writing read of a live object: an *unstructured.Unstructured
// listed from the API server, or the *Cached value an informer cache keeps instead (Compact).
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
	_ Object = (*Cached)(nil)
)

// LabelsOf is obj's labels for a label selector; a cached object's are read without building
// a map.
func LabelsOf(obj Object) labels.Labels {
	if c, ok := obj.(*Cached); ok {
		return c.labels
	}
	return labels.Set(obj.GetLabels())
}

// AnnotationsOf is obj's annotations to look up, as LabelsOf.
func AnnotationsOf(obj Object) labels.Labels {
	if c, ok := obj.(*Cached); ok {
		return c.annotations
	}
	return labels.Set(obj.GetAnnotations())
}

// Replicas is obj's spec.replicas, what a write through the scale subresource sets; ok is
// false when it has none.
func Replicas(obj Object) (replicas int64, ok bool) {
	switch o := obj.(type) {
	case *Cached:
		if o.replicas == nil {
			return 0, false
		}
		return *o.replicas, true
	case *unstructured.Unstructured:
		r, found, err := unstructured.NestedInt64(o.Object, "spec", "replicas")
		return r, found && err == nil
	}
	return 0, false
}

// groupKind is obj's API group and kind.
func groupKind(obj Object) schema.GroupKind {
	return schema.FromAPIVersionAndKind(obj.GetAPIVersion(), obj.GetKind()).GroupKind()
}
