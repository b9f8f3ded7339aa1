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
// Every candidate is left out at once, the result is defaulted, and every candidate at, above
// or below a path where it differs from D(obj) is put back, until nothing differs (settle).
// The maps that are then left empty are left out the same way, and last the candidates that
// copy another value are tried again (copies). Each step that does not settle leaves the
// object as the step before had it; the first, obj as it is.
func withoutDefaults(obj map[string]any, owned, applied *fieldpath.Set, kind *defaulting.Kind) map[string]any {
	want, err := kind.Default(obj)
	if err != nil {
		return obj
	}
	w := &walk{owned: owned, applied: applied, kind: kind, removed: map[string][]any{}, keep: &trie{}}
	w.collect(obj, want)
	if len(w.removed) == 0 {
		return obj
	}
	candidates := maps.Clone(w.removed)
	// Leaves first, with every map kept (a probe whose fields all went would take its
	// handler with it), then the maps they left empty.
	if !w.settle(obj, want) {
		return obj
	}
	w.pruneEmptied(obj, want)
	if w.pruneLists(obj, want) {
		w.pruneEmptied(obj, want)
	}
	left := w.copies(obj, want, candidates)
	if w.dependents(obj, want, candidates) || left {
		w.pruneEmptied(obj, want)
	}
	return w.without(obj)
}

// dependents tries again the candidates that are still put back. A default that depends on
// another value (a LoadBalancer Service's allocateLoadBalancerNodePorts, on its type) differs
// when that value is left out with it, and is put back with it. So they are all left out
// again and put back in order: first those where defaulting gives another value (the type:
// its dependents are then right), then those where it gives none (an image). Each round is one
// defaulting; it reports whether it left out any.
func (w *walk) dependents(obj, want map[string]any, candidates map[string][]any) bool {
	var back []string
	for key := range candidates {
		if _, gone := w.removed[key]; !gone {
			back = append(back, key)
			w.removed[key] = candidates[key]
		}
	}
	if len(back) == 0 {
		return false
	}
	settled := false
	for range maxRounds {
		got, err := w.kind.Default(w.without(obj))
		if err != nil {
			break
		}
		diffs := differences(got, want, nil, nil)
		if len(diffs) == 0 {
			settled = true
			break
		}
		var other, related []string
		for _, key := range back {
			p, out := w.removed[key]
			if !out || !relatedToAny(p, diffs) {
				continue
			}
			related = append(related, key)
			if v, ok := lookup(got, p); ok && !reflect.DeepEqual(v, lookupValue(want, p)) {
				other = append(other, key)
			}
		}
		if len(other) == 0 {
			other = related
		}
		if len(other) == 0 {
			break
		}
		for _, key := range other {
			delete(w.removed, key)
		}
	}
	left := false
	for _, key := range back {
		if _, out := w.removed[key]; out && !settled {
			delete(w.removed, key)
		} else if out {
			left = true
		}
	}
	for _, key := range back {
		if _, out := w.removed[key]; !out && w.parentGoes(obj, want, candidates[key]) {
			left = true
		}
	}
	return left
}

// parentGoes tries leaving out the map that holds p and nothing else: a pointer struct is
// defaulted only when it is missing (a CRD's conversion), so its last field goes with it or
// not at all. It reports whether the map stays out.
func (w *walk) parentGoes(obj, want map[string]any, p []any) bool {
	if len(p) < 2 {
		return false
	}
	parent := p[:len(p)-1]
	if m, ok := lookup(obj, parent); !ok || len(asMap(m)) != 1 || w.keep.has(parent) {
		return false
	}
	pk := pathKey(parent)
	w.removed[pk] = parent
	w.retry(obj, want, []string{pk}, map[string][]any{pk: parent})
	_, out := w.removed[pk]
	return out
}

func lookupValue(v any, p []any) any {
	got, _ := lookup(v, p)
	return got
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// collect finds the candidates of obj, whose defaulted form is want.
func (w *walk) collect(obj, want map[string]any) {
	for k, v := range obj {
		switch k {
		case "apiVersion", "kind":
		case "metadata":
			if md, ok := v.(map[string]any); ok {
				if labels, ok := md["labels"]; ok {
					w.visit(labels, want, []any{"metadata", "labels"}, childOf(childOf(w.owned, "metadata"), "labels"), childOf(childOf(w.applied, "metadata"), "labels"), true)
				}
			}
		default:
			w.visitField(v, want, []any{k}, w.owned, w.applied, fieldpath.FieldNameElement(k))
		}
	}
}

// pruneEmptied leaves out the maps the candidates left empty, those that may go; when that
// does not settle, it leaves them all in.
func (w *walk) pruneEmptied(obj, want map[string]any) {
	before := maps.Clone(w.removed)
	for _, p := range w.emptied(obj) {
		w.removed[pathKey(p)] = p
	}
	if !w.settle(obj, want) {
		w.removed = before
	}
}

// pruneLists leaves out the lists whose items are all left empty when defaulting puts the
// whole list back: an HTTPRoute rule's matches: [{path: {type: PathPrefix, value: /}}] is
// the default of a rule without matches. Otherwise their items stay (egress: [{}] means
// allow all, and no default puts it back). It reports whether any stays out.
func (w *walk) pruneLists(obj, want map[string]any) bool {
	gone := w.removedTrie()
	var batch []string
	candidates := map[string][]any{}
	for _, p := range w.lists {
		v, _ := lookup(obj, p)
		items, _ := v.([]any)
		if len(items) == 0 || gone.has(p) || !itemsGone(items, gone.at(p), w.keep.at(p)) {
			continue
		}
		key := pathKey(p)
		batch = append(batch, key)
		candidates[key] = p
		w.removed[key] = p
	}
	return len(batch) > 0 && w.retry(obj, want, batch, candidates)
}

// itemsGone reports whether every item of a list is a map of which nothing is left once the
// values of gone are left out; keep holds the maps that stay.
func itemsGone(items []any, gone, keep *trie) bool {
	for i, item := range items {
		m, ok := item.(map[string]any)
		if !ok || !allGone(m, gone.child(i), keep.child(i)) {
			return false
		}
	}
	return true
}

// settle puts back candidates until obj without the rest defaults to want; false when it does
// not within maxRounds or defaulting fails.
func (w *walk) settle(obj map[string]any, want map[string]any) bool {
	for range maxRounds {
		out := w.without(obj)
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

// copies tries again the candidates put back whose value is also elsewhere in obj: the
// defaults that copy another field (a Job's labels from its template's, a Pod's requests from
// its limits) are put back with it when both are left out at once, and come back once it is
// there. A value and its copy are equal, so a round tries one candidate of each value at once:
// as many rounds as the most repeated value has candidates. It reports whether it left out any.
func (w *walk) copies(obj, want map[string]any, candidates map[string][]any) bool {
	counts := map[any]int{}
	countScalars(obj, counts)
	groups := map[any][]string{}
	for key, p := range candidates {
		if _, gone := w.removed[key]; gone {
			continue
		}
		if v, _ := lookup(obj, p); isScalar(v) && counts[v] > 1 {
			groups[v] = append(groups[v], key)
		}
	}
	for _, g := range groups {
		slices.Sort(g)
	}
	left := false
	for round := 0; ; round++ {
		var batch []string
		for _, g := range groups {
			if round < len(g) {
				batch = append(batch, g[round])
			}
		}
		if len(batch) == 0 {
			return left
		}
		for _, key := range batch {
			w.removed[key] = candidates[key]
		}
		if w.retry(obj, want, batch, candidates) {
			left = true
		}
	}
}

// retry checks a round of copies: the candidates of batch related to a difference go back;
// if the rest still do not default to want, they all go back. It reports whether any stay out.
func (w *walk) retry(obj, want map[string]any, batch []string, candidates map[string][]any) bool {
	for range 2 {
		got, err := w.kind.Default(w.without(obj))
		if err != nil {
			break
		}
		diffs := differences(got, want, nil, nil)
		if len(diffs) == 0 {
			return true
		}
		for _, key := range batch {
			if relatedToAny(candidates[key], diffs) {
				delete(w.removed, key)
			}
		}
	}
	for _, key := range batch {
		delete(w.removed, key)
	}
	return false
}

// relatedToAny reports whether p is at, above or below a path of diffs.
func relatedToAny(p []any, diffs [][]any) bool {
	for _, d := range diffs {
		if isPrefix(p, d) || isPrefix(d, p) {
			return true
		}
	}
	return false
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

// emptied are the paths of the maps in obj that held something and hold nothing once the
// candidates are left out, and that may go (not kept, not list items).
func (w *walk) emptied(obj map[string]any) [][]any {
	return w.emptiedBelow(obj, nil, w.removedTrie(), w.keep, nil)
}

// emptiedBelow is emptied for v, the value at path; gone and keep are the nodes of path in
// the tries of values left out and of maps that stay.
func (w *walk) emptiedBelow(v any, path []any, gone, keep *trie, out [][]any) [][]any {
	switch x := v.(type) {
	case map[string]any:
		for k, item := range x {
			g, kp := gone.child(k), keep.child(k)
			if g != nil && g.here {
				continue
			}
			p := appendPath(path, k)
			out = w.emptiedBelow(item, p, g, kp, out)
			if im, isMap := item.(map[string]any); isMap && len(im) > 0 && (kp == nil || !kp.here) && allGone(im, g, kp) {
				out = append(out, p)
			}
		}
	case []any:
		for i, item := range x {
			out = w.emptiedBelow(item, appendPath(path, i), gone.child(i), keep.child(i), out)
		}
	}
	return out
}

// allGone reports whether nothing of m is left once the values of gone are left out; keep
// holds the maps that stay.
func allGone(m map[string]any, gone, keep *trie) bool {
	for k, item := range m {
		g, kp := gone.child(k), keep.child(k)
		if g != nil && g.here {
			continue
		}
		im, isMap := item.(map[string]any)
		if !isMap || len(im) == 0 || (kp != nil && kp.here) || !allGone(im, g, kp) {
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
	keep           *trie            // maps that stay even when all they hold is left out
	lists          [][]any          // lists of maps no Apply manager names on their own
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
			w.keep.add(path)
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
		if removable && !w.kind.Unsure(path) {
			w.lists = append(w.lists, path)
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
		w.keep.add(ipath)
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

// without is obj without the values still left out (candidates, and maps they left empty).
// Only the maps and lists on the way to a value left out are copied; the rest is shared with
// obj.
func (w *walk) without(obj map[string]any) map[string]any {
	out, _ := withoutValues(obj, w.removedTrie()).(map[string]any)
	return out
}

func withoutValues(v any, t *trie) any {
	if t == nil || len(t.kids) == 0 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		out := maps.Clone(x)
		for step, kid := range t.kids {
			k, _ := step.(string)
			item, ok := x[k]
			switch {
			case !ok:
			case kid.here:
				delete(out, k)
			default:
				out[k] = withoutValues(item, kid)
			}
		}
		return out
	case []any:
		out := slices.Clone(x)
		for step, kid := range t.kids {
			if i, ok := step.(int); ok && i < len(x) {
				out[i] = withoutValues(x[i], kid)
			}
		}
		return out
	}
	return v
}

// trie is a set of paths: here when the path to this node is in it.
type trie struct {
	here bool
	kids map[any]*trie
}

func (t *trie) add(path []any) {
	for _, step := range path {
		if t.kids == nil {
			t.kids = map[any]*trie{}
		}
		next := t.kids[step]
		if next == nil {
			next = &trie{}
			t.kids[step] = next
		}
		t = next
	}
	t.here = true
}

// has reports whether path is in t.
func (t *trie) has(path []any) bool {
	for _, step := range path {
		if t = t.child(step); t == nil {
			return false
		}
	}
	return t.here
}

// at is the node of path below t, nil when there is none.
func (t *trie) at(path []any) *trie {
	for _, step := range path {
		t = t.child(step)
	}
	return t
}

// child is the node below t by step, nil when there is none.
func (t *trie) child(step any) *trie {
	if t == nil {
		return nil
	}
	return t.kids[step]
}

func (w *walk) removedTrie() *trie {
	t := &trie{}
	for _, p := range w.removed {
		t.add(p)
	}
	return t
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
