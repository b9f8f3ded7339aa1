package snapshot

import (
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
)

// maxRounds bounds the put-back loop of withoutDefaults. Each round puts back at least one
// value; real objects settle in two or three (remove all, put back what defaulting does not
// reproduce, check). An object that has not settled by then is written with its defaults.
const maxRounds = 8

// withoutDefaults is the Clean step (b) of README.md "What ends up in Git": obj (a sanitized
// Clean object, owned fields only) without every value the API server's defaulting would put
// back. The result F satisfies D(F) == D(obj): a value is left out exactly when defaulting
// the object without it gives the same object. obj is not modified; the result shares values
// with it.
//
// A value is a candidate when it is a leaf (a scalar, null, an empty map or list) that D(obj)
// holds unchanged, so that a field the typed kind does not know (dropped by the typed round
// trip) is never one. These are never candidates:
//   - apiVersion, kind and metadata but its labels (a Job's labels default to its template's);
//   - a value an Apply manager's field set names on its own: its author wrote it (a map it
//     names stays too, if only as {}); inside an atomic list or struct, named as one unit,
//     defaulting decides;
//   - a key field of a list item (a port's protocol): it says which item it is;
//   - an empty label selector (podSelector: {}): empty means everything, never noise;
//   - emptyDir: {}, the member of the volume one-of that names its kind, which
//     SetDefaults_Volume puts back when a volume names none (the only one-of a built-in
//     defaulting fills);
//   - list items themselves (egress: [{}] means allow all), though their fields may be left out;
//   - a value the compiled defaulting fills but the server's version does not (Kind.Unsure).
//
// Every candidate is removed at once, and maps that are left empty go with them; the result is
// defaulted, and every candidate at or below a path where it differs from D(obj) is put back,
// until nothing differs.
func withoutDefaults(obj map[string]any, owned, applied *fieldpath.Set, kind *defaulting.Kind) map[string]any {
	want, err := kind.Default(obj)
	if err != nil {
		return obj
	}
	w := &walk{owned: owned, applied: applied, kind: kind, removed: map[string][]any{}, keep: map[string]bool{}}
	for k, v := range obj {
		if k == "metadata" {
			if md, ok := v.(map[string]any); ok {
				if labels, ok := md["labels"]; ok {
					w.visit(labels, want, []any{"metadata", "labels"}, childOf(childOf(owned, "metadata"), "labels"), childOf(childOf(applied, "metadata"), "labels"), true)
				}
			}
			continue
		}
		if k == "apiVersion" || k == "kind" {
			continue
		}
		pe := fieldpath.FieldNameElement(k)
		w.visitField(v, want, []any{k}, owned, applied, pe)
	}
	if len(w.removed) == 0 {
		return obj
	}
	candidates := maps.Clone(w.removed)
	// Leaves first, with every map kept (a probe whose fields all went would take its
	// handler with it), then the maps they left empty.
	if !w.settle(obj, want) {
		return obj
	}
	for _, p := range w.emptied(obj, nil, nil) {
		w.removed[pathKey(p)] = p
	}
	if !w.settle(obj, want) {
		return obj
	}
	if w.copies(obj, want, candidates) {
		before := maps.Clone(w.removed)
		for _, p := range w.emptied(obj, nil, nil) {
			w.removed[pathKey(p)] = p
		}
		if !w.settle(obj, want) {
			w.removed = before
		}
	}
	out, _ := w.without(obj, nil).(map[string]any)
	return out
}

// settle puts back candidates until obj without the rest defaults to want; false when it does
// not within maxRounds or defaulting fails.
func (w *walk) settle(obj map[string]any, want map[string]any) bool {
	for range maxRounds {
		out, _ := w.without(obj, nil).(map[string]any)
		got, err := w.kind.Default(out)
		if err != nil {
			return false
		}
		diffs := differences(got, want, nil, nil)
		if len(diffs) == 0 {
			return true
		}
		if !w.putBack(diffs) {
			return false
		}
	}
	return false
}

// copies tries again, one at a time, the candidates put back whose value is also elsewhere
// in obj: the defaults that copy another field (a Job's labels from its template's, a Pod's
// requests from its limits) are put back with it when both are left out at once, and come
// back once it is there. It reports whether it left out any.
func (w *walk) copies(obj, want map[string]any, candidates map[string][]any) bool {
	counts := map[any]int{}
	countScalars(obj, counts)
	var retry []string
	for key, p := range candidates {
		if _, gone := w.removed[key]; gone {
			continue
		}
		if v, _ := lookup(obj, p); isScalar(v) && counts[v] > 1 {
			retry = append(retry, key)
		}
	}
	slices.Sort(retry)
	left := false
	for _, key := range retry {
		w.removed[key] = candidates[key]
		out, _ := w.without(obj, nil).(map[string]any)
		got, err := w.kind.Default(out)
		if err != nil || len(differences(got, want, nil, nil)) > 0 {
			delete(w.removed, key)
			continue
		}
		left = true
	}
	return left
}

// countScalars counts the scalar values in v.
func countScalars(v any, counts map[any]int) {
	switch x := v.(type) {
	case map[string]any:
		for _, item := range x {
			countScalars(item, counts)
		}
	case []any:
		for _, item := range x {
			countScalars(item, counts)
		}
	default:
		if isScalar(x) {
			counts[x]++
		}
	}
}

// emptied are the paths of the maps below v (the value at path) that held something and
// hold nothing once the candidates are left out, and that may go (not kept, not list items).
func (w *walk) emptied(v any, path []any, out [][]any) [][]any {
	m, ok := v.(map[string]any)
	if !ok {
		if l, isList := v.([]any); isList {
			for i, item := range l {
				out = w.emptied(item, appendPath(path, i), out)
			}
		}
		return out
	}
	for k, item := range m {
		p := appendPath(path, k)
		if _, gone := w.removed[pathKey(p)]; gone {
			continue
		}
		out = w.emptied(item, p, out)
		if im, isMap := item.(map[string]any); isMap && len(im) > 0 && !w.keep[pathKey(p)] && w.allGone(im, p) {
			out = append(out, p)
		}
	}
	return out
}

// allGone reports whether nothing of m, the map at path, is left once the candidates are
// left out.
func (w *walk) allGone(m map[string]any, path []any) bool {
	for k, item := range m {
		p := appendPath(path, k)
		if _, gone := w.removed[pathKey(p)]; gone {
			continue
		}
		im, isMap := item.(map[string]any)
		if !isMap || len(im) == 0 || w.keep[pathKey(p)] || !w.allGone(im, p) {
			return false
		}
	}
	return true
}

// walk collects the candidates of one object.
type walk struct {
	owned, applied *fieldpath.Set
	kind           *defaulting.Kind
	removed        map[string][]any // candidates left out, by pathKey
	keep           map[string]bool  // maps that stay even when all they hold is left out
}

// childOf is the node of set below field name, nil when set has none.
func childOf(set *fieldpath.Set, name string) *fieldpath.Set {
	if set == nil {
		return nil
	}
	c, _ := set.Children.Get(fieldpath.FieldNameElement(name))
	return c
}

// visitField visits v, reached from the set nodes owned and applied by pe.
func (w *walk) visitField(v, want any, path []any, owned, applied *fieldpath.Set, pe fieldpath.PathElement) {
	named := applied != nil && applied.Members.Has(pe)
	var ownedChild, appliedChild *fieldpath.Set
	if owned != nil {
		ownedChild, _ = owned.Children.Get(pe)
	}
	if applied != nil {
		appliedChild, _ = applied.Children.Get(pe)
	}
	w.visit(v, want, path, ownedChild, appliedChild, !named)
}

// visit looks at v, the value at path, whose value in D(obj) is in want (the whole defaulted
// object: it is looked up by path). removable is false when v must stay.
func (w *walk) visit(v, want any, path []any, owned, applied *fieldpath.Set, removable bool) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			w.leaf(v, want, path, removable && !keptEmpty(path))
			return
		}
		if !removable {
			w.keep[pathKey(path)] = true
		}
		for k, item := range x {
			w.visitField(item, want, appendPath(path, k), owned, applied, fieldpath.FieldNameElement(k))
		}
	case []any:
		if len(x) == 0 || allScalars(x) {
			// A list of scalars goes or stays whole (policyTypes: [Ingress, Egress]); one whose
			// items an Apply manager names by value stays.
			w.leaf(v, want, path, removable && !namesAny(applied))
			return
		}
		w.visitList(x, want, path, owned, applied)
	default:
		w.leaf(v, want, path, removable)
	}
}

func allScalars(items []any) bool {
	for _, item := range items {
		if item != nil && !isScalar(item) {
			return false
		}
	}
	return true
}

// namesAny reports whether set, the node of a list, names any of its items.
func namesAny(set *fieldpath.Set) bool {
	return set != nil && !set.Empty()
}

// visitList visits the items of a list: each item stays, and so do the key fields of an
// item the field set names by key.
func (w *walk) visitList(items []any, want any, path []any, owned, applied *fieldpath.Set) {
	var shapes [][]string
	if owned != nil {
		shapes = keyShapes(owned)
	}
	for i, item := range items {
		ipath := appendPath(path, i)
		m, isMap := item.(map[string]any)
		if !isMap {
			continue // a scalar item names itself (a set) or its index: it stays
		}
		w.keep[pathKey(ipath)] = true
		var pe fieldpath.PathElement
		var ownedItem, appliedItem *fieldpath.Set
		if owned != nil {
			pe, _ = listElement(i, item, owned, shapes)
			ownedItem, _ = owned.Children.Get(pe)
			if applied != nil {
				appliedItem, _ = applied.Children.Get(pe)
			}
		}
		for k, v := range m {
			fpe := fieldpath.FieldNameElement(k)
			if pe.Key != nil && isKeyField(*pe.Key, k) {
				continue
			}
			w.visitField(v, want, appendPath(ipath, k), ownedItem, appliedItem, fpe)
		}
	}
}

func isKeyField(key value.FieldList, name string) bool {
	for _, f := range key {
		if f.Name == name {
			return true
		}
	}
	return false
}

// keptEmpty reports whether an empty map at path always stays: an empty label selector
// (podSelector: {} selects every Pod) or a volume's emptyDir: {}.
func keptEmpty(path []any) bool {
	name, _ := path[len(path)-1].(string)
	return isSelector(name) || name == "emptyDir"
}

// isSelector reports whether a field of that name is a label selector, by the API
// conventions' names (selector, podSelector, namespaceSelector, nodeSelector, ...).
func isSelector(name string) bool {
	return name == "selector" || strings.HasSuffix(name, "Selector")
}

// leaf makes v a candidate when it may go and D(obj) holds it unchanged.
func (w *walk) leaf(v, want any, path []any, removable bool) {
	if !removable || w.kind.Unsure(path) {
		return
	}
	got, ok := lookup(want, path)
	if !ok || !reflect.DeepEqual(got, v) {
		return
	}
	w.removed[pathKey(path)] = path
}

// lookup is the value at path in v.
func lookup(v any, path []any) (any, bool) {
	for _, p := range path {
		switch step := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[step]; !ok {
				return nil, false
			}
		case int:
			l, ok := v.([]any)
			if !ok || step >= len(l) {
				return nil, false
			}
			v = l[step]
		}
	}
	return v, true
}

// without is v, the value at path, without the values still left out (candidates, and maps
// they left empty).
func (w *walk) without(v any, path []any) any {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return x
		}
		out := make(map[string]any, len(x))
		for k, item := range x {
			p := appendPath(path, k)
			if _, gone := w.removed[pathKey(p)]; gone {
				continue
			}
			out[k] = w.without(item, p)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = w.without(item, appendPath(path, i))
		}
		return out
	}
	return v
}

// putBack takes back every candidate at or below a path in diffs, and those at or above one
// (a map left out whole). When none is related to any difference (a value left out changed
// the default of another, elsewhere), the candidates nearest to the first difference go back.
// It reports false when nothing was left to put back.
func (w *walk) putBack(diffs [][]any) bool {
	put := false
	for key, r := range w.removed {
		for _, d := range diffs {
			if isPrefix(r, d) || isPrefix(d, r) {
				delete(w.removed, key)
				put = true
				break
			}
		}
	}
	if put {
		return true
	}
	best := -1
	for _, r := range w.removed {
		if n := commonPrefix(r, diffs[0]); n > best {
			best = n
		}
	}
	for key, r := range w.removed {
		if commonPrefix(r, diffs[0]) == best {
			delete(w.removed, key)
			put = true
		}
	}
	return put
}

// differences are the paths where a and b differ: a key one has and the other has not, a
// list of another length, another scalar. path is a's and b's path.
func differences(a, b any, path []any, out [][]any) [][]any {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return append(out, path)
		}
		for k, av := range x {
			bv, ok := y[k]
			if !ok {
				out = append(out, appendPath(path, k))
				continue
			}
			out = differences(av, bv, appendPath(path, k), out)
		}
		for k := range y {
			if _, ok := x[k]; !ok {
				out = append(out, appendPath(path, k))
			}
		}
		return out
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return append(out, path)
		}
		for i := range x {
			out = differences(x[i], y[i], appendPath(path, i), out)
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		return append(out, path)
	}
	return out
}

func isPrefix(p, of []any) bool {
	return len(p) <= len(of) && commonPrefix(p, of) == len(p)
}

func commonPrefix(a, b []any) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// appendPath is path with one more step, never sharing path's backing array.
func appendPath(path []any, step any) []any {
	out := make([]any, len(path), len(path)+1)
	copy(out, path)
	return append(out, step)
}

// pathKey is path as a map key: map keys quoted, list indexes bare.
func pathKey(path []any) string {
	var b strings.Builder
	for _, p := range path {
		switch s := p.(type) {
		case string:
			b.WriteString(strconv.Quote(s))
		case int:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s))
			b.WriteByte(']')
		}
	}
	return b.String()
}
