package defaulting

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Defaulter is the defaulting of one API server: the built-in kinds' for a server version the
// compiled defaulting is exact for, and the custom resources' of its CRDs. For any other
// version, and as a nil *Defaulter, it defaults nothing: Clean then leaves out only what no
// field manager owns, custom resources included, and nothing on a guess. SetServer follows
// the server through an upgrade; a Defaulter is safe for concurrent use.
type Defaulter struct {
	builtin *Builtin
	schemas *Schemas
	server  atomic.Pointer[server] // nil: a version the compiled defaulting is not exact for
}

// server is a version the compiled defaulting is exact for.
type server struct {
	minor      int
	exceptions []exception
}

// ErrNotCovered is returned for an API server whose version the compiled defaulting is not
// exact for.
var ErrNotCovered = errors.New("the compiled defaulting is not exact for this API server version")

// ForServer is the defaulting of an API server of Kubernetes major.minor (discovery's
// ServerVersion), with the custom resources of schemas (nil for none). For a version the
// compiled defaulting is not exact for (Exact), it returns nil and an error wrapping
// ErrNotCovered that says which versions are.
func ForServer(major, minor string, schemas *Schemas) (*Defaulter, error) {
	d := New(schemas)
	if _, err := d.SetServer(major, minor); err != nil {
		return nil, err
	}
	return d, nil
}

// New is a Defaulter with the custom resources of schemas (nil for none) that defaults
// nothing until SetServer names a version it is exact for: for a process that runs long, whose
// server may be upgraded under it.
func New(schemas *Schemas) *Defaulter {
	return &Defaulter{builtin: NewBuiltin(), schemas: schemas}
}

// SetServer makes d the defaulting of an API server of Kubernetes major.minor. For a version
// the compiled defaulting is not exact for, d defaults nothing from then on and the error
// wraps ErrNotCovered. changed reports whether what d leaves out may differ from before: files
// rendered before should be rendered again.
func (d *Defaulter) SetServer(major, minor string) (changed bool, err error) {
	var next *server
	if Exact(major, minor) {
		_, m, _ := ParseVersion(major, minor)
		next = &server{minor: m, exceptions: exceptionsFor(m)}
	} else {
		err = fmt.Errorf("API server version %s.%s, defaulting compiled for %s: %w", major, minor, Covered(), ErrNotCovered)
	}
	prev := d.server.Swap(next)
	changed = (prev == nil) != (next == nil) || (prev != nil && prev.minor != next.minor)
	return changed, err
}

// Compiled is the defaulting of a server of the compiled release, with schemas (nil for
// none): for tests, and where the server is known to be that release.
func Compiled(schemas *Schemas) *Defaulter {
	d, _ := ForServer("1", strconv.Itoa(compiledMinor), schemas)
	return d
}

// Kind is the defaulting of one kind of object.
type Kind struct {
	gvk        schema.GroupVersionKind
	builtin    *Builtin
	custom     *customSchema
	exceptions []exception
}

// For is the defaulting of objects of gvk, nil when they have none (a ConfigMap, a custom
// resource whose schema has no default): the cheap path, nothing converted.
func (d *Defaulter) For(gvk schema.GroupVersionKind) *Kind {
	if d == nil {
		return nil
	}
	srv := d.server.Load()
	if srv == nil {
		return nil
	}
	if d.builtin.Has(gvk) {
		k := &Kind{gvk: gvk, builtin: d.builtin}
		for _, e := range srv.exceptions {
			if e.applies(gvk.GroupKind()) {
				k.exceptions = append(k.exceptions, e)
			}
		}
		return k
	}
	if st := d.schemas.get(gvk); st != nil {
		return &Kind{gvk: gvk, custom: &customSchema{st}}
	}
	return nil
}

// Default is D: obj as the API server would store it, defaulted. obj is not modified. For a
// built-in kind the result has been through the typed kind, so fields it does not know are
// gone and structs typed serialization always writes are there ({} when empty).
func (k *Kind) Default(obj map[string]any) (map[string]any, error) {
	if k.custom != nil {
		return defaultCustom(k.custom.st, obj), nil
	}
	return k.builtin.Default(k.gvk, obj)
}

// Unsure reports whether the value at path (map keys as strings, list indexes as ints) is
// defaulted by the compiled release but not by the server this Kind is for: such a value is
// never left out.
func (k *Kind) Unsure(path []any) bool {
	for _, e := range k.exceptions {
		if e.matches(path) {
			return true
		}
	}
	return false
}
