package defaulting

import (
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
