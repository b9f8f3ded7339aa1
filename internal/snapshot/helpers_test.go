package snapshot

import (
	"encoding/json"
	"os"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// readObject decodes a YAML file the way a live object reaches us: as JSON decoded into
// unstructured (int64 kept apart from float64).
func readObject(t testing.TB, file string) *unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return decodeObject(t, b)
}

func decodeObject(t testing.TB, b []byte) *unstructured.Unstructured {
	t.Helper()
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("yaml to json: %v", err)
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(j); err != nil {
		t.Fatalf("decode object: %v", err)
	}
	return obj
}

// readBack decodes rendered bytes the way kubectl and Flux read them (sigs.k8s.io/yaml into a
// map), then normalizes numbers. Numbers are kept as json.Number on the way so that int64
// values above 2^53 are compared exactly, as unstructured decoding keeps them.
func readBack(t *testing.T, b []byte) any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal(b, &m, useNumber); err != nil {
		t.Fatalf("read back:\n%s\n%v", b, err)
	}
	return normalize(t, m)
}

// normalize passes v through JSON and the decoder unstructured objects use, so that numbers are
// int64 or float64 exactly as on a live object.
func normalize(t *testing.T, v any) any {
	t.Helper()
	j, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("normalize: %v", err)
	}
	var out any
	if err := utiljson.Unmarshal(j, &out); err != nil {
		t.Fatalf("normalize: %v", err)
	}
	return out
}

func useNumber(d *json.Decoder) *json.Decoder {
	d.UseNumber()
	return d
}
