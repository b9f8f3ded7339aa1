package defaulting

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	upstream "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: string, default: medium}
              limits:
                type: object
                default: {}
                properties:
                  cpu: {type: string, default: 500m}
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: string}}}
`

func crd(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSchemas(t *testing.T) {
	s := NewSchemas()
	if err := s.SetUnstructured(crd(t, widgetCRD)); err != nil {
		t.Fatal(err)
	}
	d := Compiled(s)
	v1 := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	v2 := schema.GroupVersionKind{Group: "example.com", Version: "v2", Kind: "Widget"}
	if d.For(v2) != nil {
		t.Error("v2 has no defaults, yet a Kind")
	}
	k := d.For(v1)
	if k == nil {
		t.Fatal("no Kind for v1")
	}
	in := map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "spec": map[string]any{}}
	got, err := k.Default(in)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "spec": map[string]any{
		"size": "medium", "limits": map[string]any{"cpu": "500m"},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Default (-want +got):\n%s", diff)
	}
	if len(in["spec"].(map[string]any)) != 0 {
		t.Error("Default modified its input")
	}
	s.Delete("widgets.example.com")
	if d.For(v1) != nil {
		t.Error("a deleted CRD still defaults")
	}
}

// Schemas is fed by an informer while renderers read it.
func TestSchemasConcurrent(t *testing.T) {
	s := NewSchemas()
	u := crd(t, widgetCRD)
	d := Compiled(s)
	gvk := schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if i%2 == 0 {
					_ = s.SetUnstructured(u)
					s.Delete(u.GetName())
				} else if k := d.For(gvk); k != nil {
					_, _ = k.Default(map[string]any{"spec": map[string]any{}})
				}
			}
		}()
	}
	wg.Wait()
}

// applyDefaults is a copy of the upstream algorithm: both give the same objects.
func TestApplyDefaultsIsUpstream(t *testing.T) {
	s := NewSchemas()
	if err := s.SetUnstructured(crd(t, nestedCRD)); err != nil {
		t.Fatal(err)
	}
	st := s.get(schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Gadget"})
	if st == nil {
		t.Fatal("no schema")
	}
	for _, doc := range []string{
		`{}`,
		`{"spec": {}}`,
		`{"spec": {"size": null, "limits": null, "ports": [{}, {"protocol": "UDP"}, null], "labels": {"a": null, "b": "x"}}}`,
		`{"spec": {"limits": {"cpu": "1"}, "extra": {"x": 1}}}`,
	} {
		var in map[string]any
		if err := yaml.Unmarshal([]byte(doc), &in); err != nil {
			t.Fatal(err)
		}
		want := runtime.DeepCopyJSON(in)
		upstream.Default(want, st)
		got := defaultCustom(st, in)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-upstream +ours):\n%s", doc, diff)
		}
	}
}

const nestedCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            default: {}
            x-kubernetes-preserve-unknown-fields: true
            properties:
              size: {type: string, default: medium}
              limits:
                type: object
                default: {}
                properties:
                  cpu: {type: string, default: 500m}
              ports:
                type: array
                items:
                  type: object
                  default: {name: p}
                  properties:
                    name: {type: string}
                    protocol: {type: string, default: TCP}
              labels:
                type: object
                additionalProperties: {type: string, default: none}
`
