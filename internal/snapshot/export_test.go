package snapshot

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// AppliedFields is the union of obj's Apply entries' field sets: what server-side applies
// named.
func AppliedFields(obj *unstructured.Unstructured) *fieldpath.Set {
	_, applied, _ := ownedFields(obj)
	return applied
}

// InsideAtomic reports whether set names the value at path (map keys as strings, list
// indexes as ints) of obj only as part of a member owned as one unit: inside an atomic list,
// map or struct.
func InsideAtomic(obj map[string]any, set *fieldpath.Set, path []any) bool {
	var v any = obj
	for i, step := range path {
		var pe fieldpath.PathElement
		switch s := step.(type) {
		case string:
			m, _ := v.(map[string]any)
			pe, v = fieldpath.FieldNameElement(s), m[s]
		case int:
			l, _ := v.([]any)
			if s >= len(l) {
				return false
			}
			var ok bool
			if pe, ok = listElement(s, l[s], set, keyShapes(set)); !ok {
				return false
			}
			v = l[s]
		}
		children, has := set.Children.Get(pe)
		if !has {
			return set.Members.Has(pe) && i < len(path)-1
		}
		set = children
	}
	return false
}
