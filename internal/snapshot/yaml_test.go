package snapshot

import (
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	yamlv3 "go.yaml.in/yaml/v3"
)

// TestMarshalScalars checks that every scalar reads back as the same type and value, both
// through sigs.k8s.io/yaml (YAML 1.1 booleans, what kubectl uses) and through yaml.v3 (YAML
// 1.2, what kustomize uses), and pins the text written for the tricky ones.
func TestMarshalScalars(t *testing.T) {
	tests := []struct {
		name  string
		value any
		// line is the expected text after "v: " (the first line for block scalars).
		line string
	}{
		{name: "plain string", value: "nginx:1.27", line: "nginx:1.27"},
		{name: "quantity", value: "512Mi", line: "512Mi"},
		{name: "cidr", value: "10.0.0.0/8", line: "10.0.0.0/8"},
		{name: "true", value: "true", line: `"true"`},
		{name: "False", value: "False", line: `"False"`},
		{name: "yes", value: "yes", line: `"yes"`},
		{name: "Yes", value: "Yes", line: `"Yes"`},
		{name: "on", value: "on", line: `"on"`},
		{name: "no", value: "no", line: `"no"`},
		{name: "off", value: "off", line: `"off"`},
		{name: "y", value: "y", line: `"y"`},
		{name: "N", value: "N", line: `"N"`},
		{name: "null", value: "null", line: `"null"`},
		{name: "tilde", value: "~", line: `"~"`},
		{name: "int", value: "1", line: `"1"`},
		{name: "negative int", value: "-7", line: `"-7"`},
		{name: "octal", value: "0755", line: `"0755"`},
		{name: "float", value: "1.5", line: `"1.5"`},
		{name: "hex", value: "0x1F", line: `"0x1F"`},
		{name: "exponent", value: "1e3", line: `"1e3"`},
		{name: "underscored int", value: "1_000", line: `"1_000"`},
		{name: "inf", value: ".inf", line: `".inf"`},
		{name: "base 60", value: "1:20", line: `"1:20"`},
		{name: "date", value: "2026-07-01", line: `"2026-07-01"`},
		{name: "empty", value: "", line: `""`},
		{name: "leading space", value: " leading space", line: `' leading space'`},
		{name: "trailing space", value: "trailing ", line: `'trailing '`},
		{name: "colon space", value: "key: value", line: `'key: value'`},
		{name: "hash", value: "a #comment", line: `'a #comment'`},
		{name: "leading hash", value: "#x", line: `'#x'`},
		{name: "dash", value: "- item", line: `'- item'`},
		{name: "flow chars", value: "{a: [b]}", line: `'{a: [b]}'`},
		{name: "star", value: "*alias", line: `'*alias'`},
		{name: "merge key text", value: "<<", line: `"<<"`},
		{name: "document marker", value: "---", line: `'---'`},
		{name: "single quote", value: "it's", line: "it's"},
		{name: "unicode", value: "café ☕", line: "café ☕"},
		{name: "multi-line", value: "a\nb\n", line: "|"},
		{name: "multi-line without final newline", value: "a\nb", line: "|-"},
		{name: "multi-line keeping blank lines", value: "a\n\n", line: "|+"},
		{name: "multi-line with indented first line", value: "  a\nb\n", line: "|2"},
		{name: "multi-line with tab", value: "all:\n\tgo build\n", line: "|"},
		{name: "multi-line with trailing space falls back to quotes", value: "a \nb", line: `"a \nb"`},
		{name: "int64", value: int64(42), line: "42"},
		{name: "negative int64", value: int64(-42), line: "-42"},
		{name: "big int64", value: int64(math.MaxInt64), line: "9223372036854775807"},
		{name: "float64", value: 1.5, line: "1.5"},
		{name: "integral float64", value: 2.0, line: "2.0"},
		{name: "small float64", value: 1e-7, line: "1e-07"},
		{name: "large float64", value: 1e21, line: "1e+21"},
		{name: "bool", value: true, line: "true"},
		{name: "null", value: nil, line: "null"},
		{name: "empty map", value: map[string]any{}, line: "{}"},
		{name: "empty list", value: []any{}, line: "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obj := map[string]any{"v": tc.value}
			b, err := Marshal(obj)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			firstLine, _, _ := strings.Cut(string(b), "\n")
			if diff := cmp.Diff("v: "+tc.line, firstLine); diff != "" {
				t.Errorf("text (-want +got):\n%s\nfull output:\n%s", diff, b)
			}
			if diff := cmp.Diff(normalize(t, obj), readBack(t, b)); diff != "" {
				t.Errorf("sigs.k8s.io/yaml read back (-want +got):\n%s\noutput:\n%s", diff, b)
			}
			if diff := cmp.Diff(obj, readBackV3(t, b)); diff != "" {
				t.Errorf("yaml.v3 read back (-want +got):\n%s\noutput:\n%s", diff, b)
			}
		})
	}
}

// TestMarshalKeys checks keys that look like other types stay string keys.
func TestMarshalKeys(t *testing.T) {
	obj := map[string]any{}
	for _, k := range []string{"yes", "no", "on", "true", "null", "1", "1.5", "", "<<", "a: b", "#c", "key"} {
		obj[k] = "x"
	}
	b, err := Marshal(obj)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if diff := cmp.Diff(normalize(t, obj), readBack(t, b)); diff != "" {
		t.Errorf("sigs.k8s.io/yaml read back (-want +got):\n%s\noutput:\n%s", diff, b)
	}
	if diff := cmp.Diff(any(obj), readBackV3(t, b)); diff != "" {
		t.Errorf("yaml.v3 read back (-want +got):\n%s\noutput:\n%s", diff, b)
	}
}

func TestMarshalLayout(t *testing.T) {
	obj := map[string]any{
		"zeta":       int64(1),
		"data":       map[string]any{"b": "2", "a": "1", "B": "0", "a10": "x", "a9": "y"},
		"metadata":   map[string]any{"namespace": "default", "name": "app", "labels": map[string]any{"z": "1", "a": "2"}},
		"kind":       "ConfigMap",
		"apiVersion": "v1",
		"alpha":      []any{map[string]any{"y": int64(1), "x": []any{"p", "q"}}},
	}
	want := `apiVersion: v1
kind: ConfigMap
metadata:
  labels:
    a: "2"
    z: "1"
  name: app
  namespace: default
alpha:
- x:
  - p
  - q
  "y": 1
data:
  B: "0"
  a: "1"
  a10: x
  a9: "y"
  b: "2"
zeta: 1
`
	got, err := Marshal(obj)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}
}

func TestMarshalGoTypes(t *testing.T) {
	type label string
	obj := map[string]any{
		"ints":    []int{1, -2},
		"uint":    uint32(7),
		"float32": float32(0.5),
		"strings": []string{"a", "yes"},
		"labels":  map[string]label{"b": "on", "a": "1"},
		"nilMap":  map[string]string(nil),
		"ptr":     new(int64),
	}
	want := `float32: 0.5
ints:
- 1
- -2
labels:
  a: "1"
  b: "on"
nilMap: null
ptr: 0
strings:
- a
- "yes"
uint: 7
`
	got, err := Marshal(obj)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}
}

func TestMarshalUnsupported(t *testing.T) {
	tests := []struct {
		name  string
		value any
	}{
		{name: "channel", value: make(chan int)},
		{name: "struct", value: struct{ A int }{A: 1}},
		{name: "int keys", value: map[int]string{1: "a"}},
		{name: "nested function", value: map[string]any{"x": []any{func() {}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(map[string]any{"v": tc.value})
			if err == nil {
				t.Fatalf("Marshal succeeded with %q, want an error", b)
			}
		})
	}
}

// readBackV3 decodes with yaml.v3 and widens int to int64, the type unstructured objects use.
func readBackV3(t *testing.T, b []byte) any {
	t.Helper()
	var m map[string]any
	if err := yamlv3.Unmarshal(b, &m); err != nil {
		t.Fatalf("yaml.v3 read back:\n%s\n%v", b, err)
	}
	return widenInts(m)
}

func widenInts(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, item := range v {
			v[k] = widenInts(item)
		}
	case []any:
		for i, item := range v {
			v[i] = widenInts(item)
		}
	case int:
		return int64(v)
	}
	return v
}
