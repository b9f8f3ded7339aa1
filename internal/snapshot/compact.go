package snapshot

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"unique"
	"unsafe"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
)

// Cached is what an informer cache keeps of an object instead of the decoded object: its
// identity, the metadata that filters and routing read (labels for selectors, annotations for
// the control plane's own objects, ownerReferences for controller ownership), spec.replicas
// (what a write through the scale subresource sets, for its author), and its file in both
// output modes, rendered once. Nothing else of the object is there: a decoded ~1 KiB object
// with its managedFields is several times its file. Go maps cost hundreds of bytes each even
// when small, so labels and annotations are sorted pairs, and the annotations kubectl and
// controllers write are left out (cachedAnnotations).
//
// A Cached value is never modified once made, and is safe to read concurrently.
type Cached struct {
	apiVersion, kind, name, namespace, resourceVersion string

	labels, annotations pairs
	ownerReferences     []metav1.OwnerReference // nil for most objects
	replicas            *int64                  // nil without spec.replicas
	managers            string                  // Managers, joined by NUL and interned

	full  string // the Full file
	clean string // the Clean file, "" when it is the Full one
	err   string // why the object could not be rendered; then it has no files
}

// Compact is CompactWith without defaulting: its Clean file leaves out only what no field
// manager owns.
func Compact(obj Object) Object { return CompactWith(obj, nil) }

// CompactWith returns what an informer cache keeps of obj: a *Cached value, its Clean file
// rendered with d's defaulting (SanitizeWith). ServiceAccounts stay whole: whether one is the
// controller-manager's untouched default depends on all its fields. Anything else that is not
// an *unstructured.Unstructured, a *Cached value included, is returned as it is.
func CompactWith(obj Object, d *defaulting.Defaulter) Object {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || u == nil || u.GetKind() == "ServiceAccount" {
		return obj
	}
	c := &Cached{
		apiVersion:      intern(u.GetAPIVersion()),
		kind:            intern(u.GetKind()),
		name:            u.GetName(),
		namespace:       intern(u.GetNamespace()),
		resourceVersion: u.GetResourceVersion(),
		labels:          newPairs(u.GetLabels()),
		annotations:     cachedAnnotations(u),
		ownerReferences: u.GetOwnerReferences(),
	}
	if r, ok := Replicas(u); ok {
		c.replicas = &r
	}
	c.managers = intern(strings.Join(managers(u), "\x00"))
	c.render(u, d)
	return c
}

// render keeps obj's files, or why it could not be rendered. Most objects are made by an
// Update, whose managedFields own every field, so their Clean object equals the Full one:
// comparing the two sanitized objects is far cheaper than marshalling both.
func (c *Cached) render(obj *unstructured.Unstructured, d *defaulting.Defaulter) {
	fullObj, cleanObj := SanitizeFor(obj, Full), SanitizeWith(obj, Clean, d)
	full, err := marshalFile(obj, fullObj)
	if err != nil {
		c.err = err.Error()
		return
	}
	c.full = string(full)
	if reflect.DeepEqual(cleanObj.Object, fullObj.Object) {
		return
	}
	clean, err := marshalFile(obj, cleanObj)
	if err != nil { // Clean writes a part of Full, so this fails only with it
		c.err = err.Error()
		c.full = ""
		return
	}
	if string(clean) != c.full {
		c.clean = string(clean)
	}
}

// file is c's file in output mode o. It shares the cached string's bytes: the cache never
// changes them and nobody changes a rendered file, and a resync's Tree holds the file of every
// object at once, which would otherwise be a second copy of the whole cache.
func (c *Cached) file(o Output) ([]byte, error) {
	if c.err != "" {
		return nil, errors.New(c.err)
	}
	s := c.full
	if o == Clean && c.clean != "" {
		s = c.clean
	}
	return unsafe.Slice(unsafe.StringData(s), len(s)), nil
}

// GetAPIVersion, GetKind, GetName, GetNamespace and GetResourceVersion implement Object.
func (c *Cached) GetAPIVersion() string      { return c.apiVersion }
func (c *Cached) GetKind() string            { return c.kind }
func (c *Cached) GetName() string            { return c.name }
func (c *Cached) GetNamespace() string       { return c.namespace }
func (c *Cached) GetResourceVersion() string { return c.resourceVersion }

// GetLabels builds a map of c's labels; LabelsOf reads them without one.
func (c *Cached) GetLabels() map[string]string { return c.labels.toMap() }

// GetAnnotations builds a map of c's annotations, but those cachedAnnotations leaves out.
func (c *Cached) GetAnnotations() map[string]string { return c.annotations.toMap() }

// GetOwnerReferences is the cache's own slice: read it, never modify it.
func (c *Cached) GetOwnerReferences() []metav1.OwnerReference { return c.ownerReferences }

// GetObjectMeta makes c a metav1.ObjectMetaAccessor, which is how client-go's informer
// machinery reads it (meta.Accessor: its key, the namespace index, resourceVersion
// comparisons). It is built on every call, to keep no second copy in the cache.
func (c *Cached) GetObjectMeta() metav1.Object {
	return &metav1.ObjectMeta{
		Name:            c.name,
		Namespace:       c.namespace,
		ResourceVersion: c.resourceVersion,
		Labels:          c.GetLabels(),
		Annotations:     c.GetAnnotations(),
		OwnerReferences: c.ownerReferences,
	}
}

// intern is s shared with every equal string interned: the API version, kind and namespace of
// cached objects, and the keys of their labels and annotations, mostly repeat. Values are
// not interned: many are one object's own, and an interned string nobody shares costs more
// than a plain one.
func intern(s string) string { return unique.Make(s).Value() }

// pairs are labels or annotations as keys and values alternating, sorted by key: a fraction of
// the memory of a map. They are the labels.Labels of a selector.
type pairs []string

var _ labels.Labels = pairs(nil)

// newPairs is m as pairs, nil when m is empty.
func newPairs(m map[string]string) pairs {
	if len(m) == 0 {
		return nil
	}
	p := make(pairs, 0, 2*len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		p = append(p, intern(k), m[k])
	}
	return p
}

// Lookup implements labels.Labels.
func (p pairs) Lookup(key string) (value string, exists bool) {
	n := len(p) / 2
	i := sort.Search(n, func(i int) bool { return p[2*i] >= key })
	if i < n && p[2*i] == key {
		return p[2*i+1], true
	}
	return "", false
}

// Has implements labels.Labels.
func (p pairs) Has(key string) bool {
	_, ok := p.Lookup(key)
	return ok
}

// Get implements labels.Labels.
func (p pairs) Get(key string) string {
	v, _ := p.Lookup(key)
	return v
}

// toMap is p as a new map, nil when p is empty (as unstructured's getters give).
func (p pairs) toMap() map[string]string {
	if len(p) == 0 {
		return nil
	}
	m := make(map[string]string, len(p)/2)
	for i := 0; i < len(p); i += 2 {
		m[p[i]] = p[i+1]
	}
	return m
}

// cachedAnnotations are obj's annotations but those kubectl and controllers write
// (serverAnnotations), which no file holds and no filter reads; last-applied-configuration
// alone is a whole copy of the object.
func cachedAnnotations(obj *unstructured.Unstructured) pairs {
	ann := obj.GetAnnotations() // a copy
	for _, k := range serverAnnotations {
		delete(ann, k)
	}
	return newPairs(ann)
}
