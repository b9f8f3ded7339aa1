package snapshot

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
)

// Output is what a file holds of its object (README.md, "What ends up in Git": Clean and Full).
type Output string

const (
	// Clean writes only the fields some field manager set (managedFields), minus what Sanitize
	// removes: the server's defaults are left out. An object without managedFields is written
	// as in Full.
	Clean Output = "Clean"
	// Full writes every field but those Sanitize removes.
	Full Output = "Full"
)

// DefaultOutput is the mode of a destination that names none.
const DefaultOutput = Clean

// ParseOutput reads an output mode as a user writes it: Clean or Full in any case, "" for the
// default.
func ParseOutput(s string) (Output, error) {
	switch strings.ToLower(s) {
	case "":
		return DefaultOutput, nil
	case "clean":
		return Clean, nil
	case "full":
		return Full, nil
	}
	return "", fmt.Errorf("output %q: want Clean or Full", s)
}

// SanitizeFor is SanitizeWith without defaulting: Clean leaves out only what no field
// manager owns.
func SanitizeFor(obj *unstructured.Unstructured, o Output) *unstructured.Unstructured {
	return SanitizeWith(obj, o, nil)
}

// SanitizeWith is Sanitize for the output mode: in Clean, only the fields obj's managedFields
// own (and its apiVersion, kind, name and namespace) are kept before sanitizing, and then
// every value d's defaulting would put back is left out (withoutDefaults). A nil d (a server
// version the compiled defaulting is not exact for) leaves out nothing more. obj is not
// modified.
func SanitizeWith(obj *unstructured.Unstructured, o Output, d *defaulting.Defaulter) *unstructured.Unstructured {
	if obj == nil || o != Clean {
		return Sanitize(obj)
	}
	set, applied, ok := ownedFields(obj)
	if !ok {
		// Nothing says who set what (a server-side apply that named no field beyond the
		// object's name leaves no managedFields): every field counts as an Update's.
		out := Sanitize(obj)
		if kind := d.For(out.GroupVersionKind()); kind != nil {
			dropCreationFinalizer(out.Object)
			dropRegistryAnnotations(out.Object)
			out.Object = withoutDefaults(out.Object, nil, nil, kind)
		}
		return out
	}
	out := Sanitize(keepOwned(obj, set))
	if kind := d.For(out.GroupVersionKind()); kind != nil {
		dropRegistryAnnotations(out.Object)
		out.Object = withoutDefaults(out.Object, set, applied, kind)
	}
	return out
}

// registryAnnotations are annotations the API server's registry sets when an object is
// written, after defaulting and outside it (a DaemonSet's template generation): an Update's
// field set counts them as the client's, a server-side apply's does not. The server sets them
// again wherever the file is applied.
var registryAnnotations = []string{"deprecated.daemonset.template.generation"}

// dropCreationFinalizer removes a Namespace's spec.finalizers [kubernetes], which the server
// sets on every create whatever the request says (no field manager owns it).
func dropCreationFinalizer(obj map[string]any) {
	if obj["kind"] != "Namespace" || obj["apiVersion"] != "v1" {
		return
	}
	spec, ok := obj["spec"].(map[string]any)
	if f, _ := spec["finalizers"].([]any); !ok || len(f) != 1 || f[0] != "kubernetes" {
		return
	}
	delete(spec, "finalizers")
	if len(spec) == 0 {
		delete(obj, "spec")
	}
}

// dropRegistryAnnotations removes registryAnnotations from a sanitized object.
func dropRegistryAnnotations(obj map[string]any) {
	md, ok := obj["metadata"].(map[string]any)
	if !ok {
		return
	}
	deleteKeys(md, "annotations", registryAnnotations)
	dropEmptyMap(md, "annotations")
}

// PlainFor is Plain for the output mode, without defaulting (PlainWith).
func PlainFor(obj *unstructured.Unstructured, o Output) ([]byte, error) {
	return PlainWith(obj, o, nil)
}

// PlainWith is Plain for the output mode, Clean leaving out what d's defaulting puts back.
func PlainWith(obj *unstructured.Unstructured, o Output, d *defaulting.Defaulter) ([]byte, error) {
	return marshalFile(obj, SanitizeWith(obj, o, d))
}

// marshalFile is the file of sanitized, the sanitized form of obj.
func marshalFile(obj, sanitized *unstructured.Unstructured) ([]byte, error) {
	b, err := Marshal(sanitized.Object)
	if err != nil {
		return nil, fmt.Errorf("render %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	return b, nil
}

// Rendering is one object rendered (PlainFor) in each output mode at most once, so that a
// watch event is rendered once for every destination and for the author's hash. A cached
// object (Compact) is not rendered again: its files are read back. It is not safe for
// concurrent use.
type Rendering struct {
	obj       Object
	defaulter *defaulting.Defaulter
	done      map[Output]rendered
}

type rendered struct {
	b   []byte
	err error
}

// NewRendering is NewRenderingWith without defaulting.
func NewRendering(obj Object) *Rendering { return NewRenderingWith(obj, nil) }

// NewRenderingWith renders obj lazily, Clean with d's defaulting (a cached object keeps the
// files it was made with, CompactWith); obj must not change while the Rendering is in use.
func NewRenderingWith(obj Object, d *defaulting.Defaulter) *Rendering {
	return &Rendering{obj: obj, defaulter: d, done: map[Output]rendered{}}
}

// Object is the object rendered.
func (r *Rendering) Object() Object { return r.obj }

// Plain is PlainWith(obj, o, d), or a cached object's file, computed on the first call for o.
func (r *Rendering) Plain(o Output) ([]byte, error) {
	if got, ok := r.done[o]; ok {
		return got.b, got.err
	}
	b, err := plainOf(r.obj, o, r.defaulter)
	r.done[o] = rendered{b: b, err: err}
	return b, err
}

// plainOf is obj's file in output mode o.
func plainOf(obj Object, o Output, d *defaulting.Defaulter) ([]byte, error) {
	switch obj := obj.(type) {
	case *Cached:
		return obj.file(o)
	case *unstructured.Unstructured:
		return PlainWith(obj, o, d)
	}
	return nil, fmt.Errorf("render %s %s/%s: %T is neither a listed nor a cached object", obj.GetKind(), obj.GetNamespace(), obj.GetName(), obj)
}
