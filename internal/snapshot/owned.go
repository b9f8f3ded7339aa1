package snapshot

import (
	"bytes"
	"encoding/json"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

var (
	statusElement   = fieldpath.FieldNameElement("status")
	metadataElement = fieldpath.FieldNameElement("metadata")
)

// OwnedFields is the union of the field sets of obj's managedFields, every manager and
// operation (Apply or Update) alike, without status (which Sanitize drops anyway). ok is false
// when obj has no usable managedFields: none at all, one that does not parse, or an entry
// recorded against another API version for fields outside metadata. Field paths are
// per version and there is no schema here to convert them, so such an object is written in
// full rather than risk leaving out a value someone set.
func OwnedFields(obj *unstructured.Unstructured) (set *fieldpath.Set, ok bool) {
	set, _, ok = ownedFields(obj)
	return set, ok
}

// ownedFields is OwnedFields and, apart, the union of the Apply entries' field sets: the
// fields a server-side apply named, which its author wrote.
func ownedFields(obj *unstructured.Unstructured) (set, applied *fieldpath.Set, ok bool) {
	v, _, _ := unstructured.NestedFieldNoCopy(obj.Object, "metadata", "managedFields")
	entries, _ := v.([]any)
	if len(entries) == 0 {
		return nil, nil, false
	}
	set, applied = &fieldpath.Set{}, &fieldpath.Set{}
	for _, e := range entries {
		s, ok := entryFields(e, obj.GetAPIVersion())
		if !ok {
			return nil, nil, false
		}
		set = set.Union(s)
		if m, _ := e.(map[string]any); m["operation"] == "Apply" {
			applied = applied.Union(s)
		}
	}
	return set, applied, true
}

// entryFields is the field set of one managedFields entry, without status.
func entryFields(e any, apiVersion string) (*fieldpath.Set, bool) {
	m, ok := e.(map[string]any)
	if !ok {
		return nil, false
	}
	if t, _ := m["fieldsType"].(string); t != "FieldsV1" {
		return nil, false
	}
	raw, ok := fieldsJSON(m["fieldsV1"])
	if !ok {
		return nil, false
	}
	s := &fieldpath.Set{}
	if err := s.FromJSON(bytes.NewReader(raw)); err != nil {
		return nil, false
	}
	s = withoutChild(s, statusElement)
	if v, _ := m["apiVersion"].(string); v != apiVersion && !onlyMetadata(s) {
		return nil, false
	}
	return s, true
}

// fieldsJSON is an entry's fieldsV1, decoded as the API server sends it, as JSON.
func fieldsJSON(v any) ([]byte, bool) {
	switch v := v.(type) {
	case map[string]any:
		b, err := json.Marshal(v)
		return b, err == nil
	}
	return nil, false
}

// withoutChild is s without pe and everything below it.
func withoutChild(s *fieldpath.Set, pe fieldpath.PathElement) *fieldpath.Set {
	return s.RecursiveDifference(fieldpath.NewSet(fieldpath.Path{pe}))
}

// onlyMetadata reports whether s holds nothing outside metadata, which is the same in every
// API version.
func onlyMetadata(s *fieldpath.Set) bool {
	return withoutChild(s, metadataElement).Empty()
}

// identityFields are kept whatever managedFields say: the server strips them from every
// field set, yet a file without them names no object.
var identityFields = []string{"apiVersion", "kind"}

var identityMetadata = []string{"name", "namespace"}

// keepOwned returns obj with only the fields set owns, plus its identity. The result shares
// values with obj: it is for Sanitize, which copies before it changes anything.
func keepOwned(obj *unstructured.Unstructured, set *fieldpath.Set) *unstructured.Unstructured {
	out := ownedMap(obj.Object, set)
	for _, k := range identityFields {
		if v, ok := obj.Object[k]; ok {
			out[k] = v
		}
	}
	if md, ok := obj.Object["metadata"].(map[string]any); ok {
		outMD, _ := out["metadata"].(map[string]any)
		if outMD == nil {
			outMD = map[string]any{}
			out["metadata"] = outMD
		}
		for _, k := range identityMetadata {
			if v, ok := md[k]; ok {
				outMD[k] = v
			}
		}
	}
	return &unstructured.Unstructured{Object: out}
}

// ownedPart is what set owns of v, a value reached from set's node by pe, and whether set
// owns any of it. A member without children is owned whole: a scalar, an atomic list or map,
// or an empty value someone set on purpose (emptyDir: {}). A node with children keeps just
// those; it stays even when they are all gone if it is a member itself.
func ownedPart(v any, set *fieldpath.Set, pe fieldpath.PathElement) (any, bool) {
	children, hasChildren := set.Children.Get(pe)
	if !hasChildren {
		return v, set.Members.Has(pe)
	}
	kept := keepOwnedValue(v, children)
	return kept, set.Members.Has(pe) || !isEmptyCollection(kept)
}

// keepOwnedValue is the part of v that set, the node of v's path, owns. A scalar where set
// expects a map or list is kept: set and object disagree, and keeping loses nothing.
func keepOwnedValue(v any, set *fieldpath.Set) any {
	switch v := v.(type) {
	case map[string]any:
		return ownedMap(v, set)
	case []any:
		return ownedList(v, set)
	}
	return v
}

// ownedMap is the part of m that set owns. An empty label selector stays owned or not: an
// Update (kubectl create, a typed client) records no field for podSelector: {}, yet it selects
// every Pod, so it is never noise; and typed serialization writes it whenever the field is
// there, so keeping it changes nothing the server would store.
func ownedMap(m map[string]any, set *fieldpath.Set) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if kept, ok := ownedPart(v, set, fieldpath.FieldNameElement(k)); ok {
			out[k] = kept
		} else if sel, isMap := v.(map[string]any); isMap && len(sel) == 0 && isSelector(k) {
			out[k] = v
		}
	}
	return out
}

// ownedList keeps the items set names, in their order. An item named by its key
// (k:{"containerPort":80,"protocol":"TCP"}) keeps its key fields even when no manager owns
// them (a defaulted protocol): they say which item it is, and a re-apply merges on them.
func ownedList(items []any, set *fieldpath.Set) []any {
	shapes := keyShapes(set)
	out := make([]any, 0, len(items))
	for i, item := range items {
		pe, ok := listElement(i, item, set, shapes)
		if !ok {
			continue
		}
		kept, ok := ownedPart(item, set, pe)
		if !ok {
			continue
		}
		if pe.Key != nil {
			kept = withKeyFields(kept, item, *pe.Key)
		}
		out = append(out, kept)
	}
	return out
}

// withKeyFields adds the key fields of item to kept, a filtered copy of it. kept is item
// itself when the item was owned whole, which already has them and must not be written to.
func withKeyFields(kept, item any, key value.FieldList) any {
	k, ok := kept.(map[string]any)
	orig, isMap := item.(map[string]any)
	if !ok || !isMap {
		return kept
	}
	missing := false
	for _, f := range key {
		if _, has := k[f.Name]; !has {
			missing = true
		}
	}
	if !missing {
		return kept
	}
	with := make(map[string]any, len(k)+len(key))
	for name, v := range k {
		with[name] = v
	}
	for _, f := range key {
		if v, has := orig[f.Name]; has {
			with[f.Name] = v
		}
	}
	return with
}

// listElement is the path element by which set names item, the i-th of its list: by key for
// an associative list, by value for a set, by index for the rest.
func listElement(i int, item any, set *fieldpath.Set, shapes [][]string) (fieldpath.PathElement, bool) {
	if m, ok := item.(map[string]any); ok {
		for _, names := range shapes {
			if pe, ok := keyElement(m, names); ok && mentions(set, pe) {
				return pe, true
			}
		}
	} else if isScalar(item) {
		pe := fieldpath.ValueElement(value.NewValueInterface(item))
		if mentions(set, pe) {
			return pe, true
		}
	}
	pe := fieldpath.IndexElement(i)
	return pe, mentions(set, pe)
}

func mentions(set *fieldpath.Set, pe fieldpath.PathElement) bool {
	if set.Members.Has(pe) {
		return true
	}
	_, ok := set.Children.Get(pe)
	return ok
}

// keyShapes are the distinct sets of key field names that set's keyed elements use: an
// associative list has one, but nothing here knows its schema, so they are read off the set.
func keyShapes(set *fieldpath.Set) [][]string {
	var shapes [][]string
	add := func(pe fieldpath.PathElement) {
		if pe.Key == nil {
			return
		}
		names := make([]string, len(*pe.Key))
		for i, f := range *pe.Key {
			names[i] = f.Name
		}
		if !slices.ContainsFunc(shapes, func(s []string) bool { return slices.Equal(s, names) }) {
			shapes = append(shapes, names)
		}
	}
	set.Members.Iterate(add)
	set.Children.Iterate(add)
	return shapes
}

// keyElement is the k:{...} element of m for the key field names, if m has every one as a
// scalar.
func keyElement(m map[string]any, names []string) (fieldpath.PathElement, bool) {
	fields := make(value.FieldList, 0, len(names))
	for _, n := range names {
		v, ok := m[n]
		if !ok || !isScalar(v) {
			return fieldpath.PathElement{}, false
		}
		fields = append(fields, value.Field{Name: n, Value: value.NewValueInterface(v)})
	}
	fields.Sort()
	return fieldpath.KeyElement(fields...), true
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, bool, int64, float64:
		return true
	}
	return false
}

func isEmptyCollection(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}
