package defaulting

import (
	"errors"
	"fmt"
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Schemas are the structural schemas of the custom resources whose CRDs have defaults, by
// group, version and kind: what the API server defaults a custom resource with. Feed it from a
// CRD informer (Set on add and update, Delete on delete) or from a CRD list. It is safe for
// concurrent use.
type Schemas struct {
	mu    sync.RWMutex
	byGVK map[schema.GroupVersionKind]*structuralschema.Structural
	byCRD map[string][]schema.GroupVersionKind // CRD name -> the kinds it holds here
}

// NewSchemas returns an empty set of schemas.
func NewSchemas() *Schemas {
	return &Schemas{
		byGVK: map[schema.GroupVersionKind]*structuralschema.Structural{},
		byCRD: map[string][]schema.GroupVersionKind{},
	}
}

// Set puts crd's versions in place of what the same CRD held before. A version without a
// schema, without a default anywhere in it, or whose schema is not structural (the API server
// then defaults nothing either) holds nothing. The error names the versions that could not be
// read; the others are set.
func (s *Schemas) Set(crd *apiextensionsv1.CustomResourceDefinition) error {
	add := map[schema.GroupVersionKind]*structuralschema.Structural{}
	var errs []error
	if !crd.Spec.PreserveUnknownFields {
		for _, v := range crd.Spec.Versions {
			st, err := structuralOf(v.Schema)
			if err != nil {
				errs = append(errs, fmt.Errorf("CRD %s version %s: %w", crd.Name, v.Name, err))
				continue
			}
			if st != nil && hasDefaults(st) {
				add[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}] = st
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLocked(crd.Name)
	for gvk, st := range add {
		s.byGVK[gvk] = st
		s.byCRD[crd.Name] = append(s.byCRD[crd.Name], gvk)
	}
	return errors.Join(errs...)
}

// SetUnstructured is Set for a CRD as a dynamic client or informer gives it.
func (s *Schemas) SetUnstructured(u *unstructured.Unstructured) error {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd); err != nil {
		return fmt.Errorf("CRD %s: %w", u.GetName(), err)
	}
	return s.Set(crd)
}

// Delete forgets the CRD named name (as <plural>.<group>).
func (s *Schemas) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteLocked(name)
}

func (s *Schemas) deleteLocked(name string) {
	for _, gvk := range s.byCRD[name] {
		delete(s.byGVK, gvk)
	}
	delete(s.byCRD, name)
}

// get is the schema of gvk, nil when it has no defaults.
func (s *Schemas) get(gvk schema.GroupVersionKind) *structuralschema.Structural {
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.byGVK[gvk]
}

// structuralOf is the structural schema of one CRD version as the API server builds it
// (customresource_handler.go: converted to the internal version, made structural), nil without
// a schema. The server also prunes the defaults to the schema (defaulting.PruneDefaults); a v1
// CRD's defaults are pruned already, its validation refuses others.
func structuralOf(v *apiextensionsv1.CustomResourceValidation) (*structuralschema.Structural, error) {
	if v == nil || v.OpenAPIV3Schema == nil {
		return nil, nil
	}
	internal := &apiextensionsinternal.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v, internal, nil); err != nil {
		return nil, fmt.Errorf("convert schema: %w", err)
	}
	st, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("structural schema: %w", err)
	}
	return st, nil
}

// hasDefaults reports whether st or anything below it has a default.
func hasDefaults(st *structuralschema.Structural) bool {
	if st == nil {
		return false
	}
	if st.Default.Object != nil {
		return true
	}
	for k := range st.Properties {
		p := st.Properties[k]
		if hasDefaults(&p) {
			return true
		}
	}
	if st.Items != nil && hasDefaults(st.Items) {
		return true
	}
	return st.AdditionalProperties != nil && hasDefaults(st.AdditionalProperties.Structural)
}

// customSchema is the schema of one custom resource kind.
type customSchema struct{ st *structuralschema.Structural }

// defaultCustom is D for a custom resource: obj with its schema's defaults, as the API server
// applies them when it decodes a request and when it reads from storage.
func defaultCustom(st *structuralschema.Structural, obj map[string]any) map[string]any {
	out := runtime.DeepCopyJSON(obj)
	applyDefaults(out, st)
	return out
}

// applyDefaults is k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting.Default of
// the same release, line for line: that package also holds CRD validation, which would link
// the CEL interpreter (github.com/google/cel-go) into the binary for these forty lines.
// TestApplyDefaultsIsUpstream compares the two.
func applyDefaults(x any, s *structuralschema.Structural) {
	if s == nil {
		return
	}
	switch x := x.(type) {
	case map[string]any:
		for k, prop := range s.Properties {
			if prop.Default.Object == nil {
				continue
			}
			if _, found := x[k]; !found || isNonNullableNull(x[k], &prop) {
				x[k] = runtime.DeepCopyJSONValue(prop.Default.Object)
			}
		}
		for k := range x {
			if prop, found := s.Properties[k]; found {
				applyDefaults(x[k], &prop)
			} else if s.AdditionalProperties != nil {
				if isNonNullableNull(x[k], s.AdditionalProperties.Structural) {
					x[k] = runtime.DeepCopyJSONValue(s.AdditionalProperties.Structural.Default.Object)
				}
				applyDefaults(x[k], s.AdditionalProperties.Structural)
			}
		}
	case []any:
		for i := range x {
			if isNonNullableNull(x[i], s.Items) {
				x[i] = runtime.DeepCopyJSONValue(s.Items.Default.Object)
			}
			applyDefaults(x[i], s.Items)
		}
	}
}

func isNonNullableNull(x any, s *structuralschema.Structural) bool {
	return x == nil && s != nil && !s.Nullable
}
