package snapshot

import (
	"errors"
	"unsafe"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Hidden keys of a compact object. They hold strings (JSON-compatible, so DeepCopy works) and
// start with a NUL byte, which no field name of a Kubernetes object can.
const (
	compactFull  = "\x00full"  // the Full file
	compactClean = "\x00clean" // the Clean file, when it differs from the Full one
	compactErr   = "\x00err"   // why the object could not be rendered
)

// compactMetadata are the metadata fields a compact object keeps: identity, and what filters
// and routing read (selectors, controller ownership, the control plane's own objects).
var compactMetadata = []string{"name", "namespace", "resourceVersion", "labels", "annotations", "ownerReferences"}

// Compact returns what an informer cache needs to keep of obj: its identity and the metadata
// filters read, spec.replicas (what a write through the scale subresource sets), and its file
// in both output modes, rendered once. A cached ~1 KiB object then costs about its file
// instead of the decoded tree of every field and every manager's field set. Rendering reads
// the files back (Rendering.Plain); nothing else of the object is there. ServiceAccounts stay
// whole: whether one is the controller-manager's untouched default depends on all its fields.
// Compacting a compact object returns it.
func Compact(obj *unstructured.Unstructured) *unstructured.Unstructured {
	if obj == nil || isCompact(obj) || obj.GetKind() == "ServiceAccount" {
		return obj
	}
	md, _ := obj.Object["metadata"].(map[string]any)
	keep := map[string]any{}
	for _, f := range compactMetadata {
		if v, ok := md[f]; ok {
			keep[f] = v
		}
	}
	if ann, ok := keep["annotations"].(map[string]any); ok {
		if ann = withoutKeys(ann, serverAnnotations); ann != nil { // last-applied is a whole copy
			keep["annotations"] = ann
		} else {
			delete(keep, "annotations")
		}
	}
	out := map[string]any{"apiVersion": obj.GetAPIVersion(), "kind": obj.GetKind(), "metadata": keep}
	if r, found, err := unstructured.NestedFieldNoCopy(obj.Object, "spec", "replicas"); found && err == nil {
		out["spec"] = map[string]any{"replicas": r}
	}
	full, err := Plain(obj)
	if err != nil {
		out[compactErr] = err.Error()
		return &unstructured.Unstructured{Object: out}
	}
	out[compactFull] = string(full)
	if clean, err := PlainFor(obj, Clean); err == nil && string(clean) != string(full) {
		out[compactClean] = string(clean)
	}
	return &unstructured.Unstructured{Object: out}
}

func isCompact(obj *unstructured.Unstructured) bool {
	_, full := obj.Object[compactFull]
	_, failed := obj.Object[compactErr]
	return full || failed
}

// compactPlain is the file of a compact object in output mode o; ok is false for an object
// that is not compact.
func compactPlain(obj *unstructured.Unstructured, o Output) (b []byte, ok bool, err error) {
	if msg, failed := obj.Object[compactErr].(string); failed {
		return nil, true, errors.New(msg)
	}
	full, isFull := obj.Object[compactFull].(string)
	if !isFull {
		return nil, false, nil
	}
	s := full
	if clean, ok := obj.Object[compactClean].(string); ok && o == Clean {
		s = clean
	}
	// The cache's string is never changed, and neither are rendered files: share its bytes.
	return unsafe.Slice(unsafe.StringData(s), len(s)), true, nil
}

// withoutKeys is m without keys, nil when nothing is left.
func withoutKeys(m map[string]any, keys []string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for _, k := range keys {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
