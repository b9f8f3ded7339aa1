package snapshot

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// entry is one managedFields entry as the API server writes it.
func entry(apiVersion, manager, operation string, fields map[string]any) any {
	return map[string]any{
		"apiVersion": apiVersion, "manager": manager, "operation": operation,
		"time": "2026-07-01T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fields,
	}
}

type fields = map[string]any

// object is a ConfigMap-like object of apiVersion v1 with the given spec and managedFields.
func withFields(spec map[string]any, managed ...any) *unstructured.Unstructured {
	md := map[string]any{"name": "x", "namespace": "ns", "uid": "u1"}
	if managed != nil {
		md["managedFields"] = managed
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "example.com/v1", "kind": "Thing", "metadata": md, "spec": spec,
	}}
}

var identity = map[string]any{
	"apiVersion": "example.com/v1", "kind": "Thing",
	"metadata": map[string]any{"name": "x", "namespace": "ns"},
}

func with(spec map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range identity {
		out[k] = v
	}
	if spec != nil {
		out["spec"] = spec
	}
	return out
}

// TestSanitizeForClean pins how a field set selects the parts of an object, one rule a case.
func TestSanitizeForClean(t *testing.T) {
	v1 := "example.com/v1"
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want map[string]any
	}{
		{
			name: "no managedFields: everything",
			obj:  withFields(map[string]any{"a": "1", "b": int64(2)}),
			want: with(map[string]any{"a": "1", "b": int64(2)}),
		},
		{
			name: "unowned scalars dropped",
			obj:  withFields(map[string]any{"a": "1", "b": int64(2)}, entry(v1, "m", "Apply", fields{"f:spec": fields{"f:a": fields{}}})),
			want: with(map[string]any{"a": "1"}),
		},
		{
			name: "union of managers, Apply and Update",
			obj: withFields(map[string]any{"a": "1", "b": int64(2), "c": true},
				entry(v1, "kubectl", "Apply", fields{"f:spec": fields{"f:a": fields{}}}),
				entry(v1, "controller", "Update", fields{"f:spec": fields{"f:c": fields{}}})),
			want: with(map[string]any{"a": "1", "c": true}),
		},
		{
			name: "owned empty map and atomic list kept whole",
			obj: withFields(map[string]any{"emptyDir": map[string]any{}, "egress": []any{map[string]any{}}, "args": []any{"x", "y"}, "other": "z"},
				entry(v1, "m", "Apply", fields{"f:spec": fields{"f:emptyDir": fields{}, "f:egress": fields{}, "f:args": fields{}}})),
			want: with(map[string]any{"emptyDir": map[string]any{}, "egress": []any{map[string]any{}}, "args": []any{"x", "y"}}),
		},
		{
			name: "member with children keeps only those, and itself when they are gone",
			obj: withFields(map[string]any{"secret": map[string]any{"secretName": "s", "defaultMode": int64(420)}, "labels": map[string]any{"x": "y"}},
				entry(v1, "m", "Apply", fields{"f:spec": fields{
					"f:secret": fields{".": fields{}, "f:secretName": fields{}},
					"f:labels": fields{".": fields{}, "f:gone": fields{}},
				}})),
			want: with(map[string]any{"secret": map[string]any{"secretName": "s"}, "labels": map[string]any{}}),
		},
		{
			name: "parent that is not a member goes with its last child",
			obj: withFields(map[string]any{"strategy": map[string]any{"type": "RollingUpdate"}},
				entry(v1, "m", "Apply", fields{"f:spec": fields{"f:strategy": fields{"f:gone": fields{}}}})),
			want: with(nil),
		},
		{
			name: "keyed items: unowned items and fields dropped, key fields kept",
			obj: withFields(map[string]any{"ports": []any{
				map[string]any{"containerPort": int64(80), "protocol": "TCP", "name": "http"},
				map[string]any{"containerPort": int64(9090), "protocol": "TCP", "name": "metrics"},
				map[string]any{"containerPort": int64(53), "protocol": "UDP", "name": "dns"},
			}}, entry(v1, "m", "Apply", fields{"f:spec": fields{"f:ports": fields{
				`k:{"containerPort":80,"protocol":"TCP"}`: fields{".": fields{}, "f:containerPort": fields{}},
				`k:{"containerPort":53,"protocol":"UDP"}`: fields{".": fields{}, "f:name": fields{}},
			}}})),
			want: with(map[string]any{"ports": []any{
				map[string]any{"containerPort": int64(80), "protocol": "TCP"},
				map[string]any{"containerPort": int64(53), "protocol": "UDP", "name": "dns"},
			}}),
		},
		{
			name: "keyed item owned whole",
			obj: withFields(map[string]any{"env": []any{map[string]any{"name": "A", "value": "1"}}},
				entry(v1, "m", "Update", fields{"f:spec": fields{"f:env": fields{`k:{"name":"A"}`: fields{}}}})),
			want: with(map[string]any{"env": []any{map[string]any{"name": "A", "value": "1"}}}),
		},
		{
			name: "set items by value",
			obj: withFields(map[string]any{"tags": []any{"a", "server-added", "b"}},
				entry(v1, "m", "Apply", fields{"f:spec": fields{"f:tags": fields{`v:"a"`: fields{}, `v:"b"`: fields{}}}})),
			want: with(map[string]any{"tags": []any{"a", "b"}}),
		},
		{
			name: "items by index",
			obj: withFields(map[string]any{"list": []any{map[string]any{"a": "1", "d": "x"}, map[string]any{"a": "2"}}},
				entry(v1, "m", "Update", fields{"f:spec": fields{"f:list": fields{"i:0": fields{"f:a": fields{}}}}})),
			want: with(map[string]any{"list": []any{map[string]any{"a": "1"}}}),
		},
		{
			name: "scalar where the set has children is kept",
			obj: withFields(map[string]any{"x": "scalar"},
				entry(v1, "m", "Apply", fields{"f:spec": fields{"f:x": fields{"f:y": fields{}}}})),
			want: with(map[string]any{"x": "scalar"}),
		},
		{
			name: "identity kept though no set names it; status never",
			obj: func() *unstructured.Unstructured {
				o := withFields(map[string]any{"a": "1"}, entry(v1, "m", "Update", fields{"f:status": fields{"f:phase": fields{}}}))
				o.Object["status"] = map[string]any{"phase": "Ready"}
				return o
			}(),
			want: with(nil),
		},
		{
			name: "entry of another version outside metadata: everything",
			obj: withFields(map[string]any{"a": "1", "b": "2"},
				entry(v1, "m", "Apply", fields{"f:spec": fields{"f:a": fields{}}}),
				entry("example.com/v1beta1", "old", "Update", fields{"f:spec": fields{"f:b": fields{}}})),
			want: with(map[string]any{"a": "1", "b": "2"}),
		},
		{
			name: "entry of another version on metadata and status only: used",
			obj: func() *unstructured.Unstructured {
				o := withFields(map[string]any{"a": "1", "b": "2"},
					entry(v1, "m", "Apply", fields{"f:spec": fields{"f:a": fields{}}}),
					entry("example.com/v1beta1", "old", "Update", fields{"f:metadata": fields{"f:labels": fields{"f:team": fields{}}}, "f:status": fields{}}))
				o.SetLabels(map[string]string{"team": "shop", "unowned": "x"})
				return o
			}(),
			want: func() map[string]any {
				w := with(map[string]any{"a": "1"})
				w["metadata"] = map[string]any{"name": "x", "namespace": "ns", "labels": map[string]any{"team": "shop"}}
				return w
			}(),
		},
		{
			name: "unparseable field set: everything",
			obj: withFields(map[string]any{"a": "1", "b": "2"},
				entry(v1, "m", "Apply", fields{"f:spec": fields{"f:a": fields{}}}),
				entry(v1, "bad", "Update", fields{"f:spec": fields{"k:{not json": fields{}}})),
			want: with(map[string]any{"a": "1", "b": "2"}),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.obj.DeepCopy()
			got := SanitizeFor(tc.obj, Clean)
			if diff := cmp.Diff(tc.want, got.Object); diff != "" {
				t.Errorf("SanitizeFor Clean (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before.Object, tc.obj.Object); diff != "" {
				t.Errorf("input changed (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(Sanitize(tc.obj).Object, SanitizeFor(tc.obj, Full).Object); diff != "" {
				t.Errorf("SanitizeFor Full is not Sanitize (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseOutput(t *testing.T) {
	tests := []struct {
		in      string
		want    Output
		wantErr bool
	}{
		{in: "", want: Clean},
		{in: "Clean", want: Clean},
		{in: "clean", want: Clean},
		{in: "Full", want: Full},
		{in: "FULL", want: Full},
		{in: "neat", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseOutput(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("ParseOutput(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestRenderingOnce(t *testing.T) {
	obj := withFields(map[string]any{"a": "1", "b": "2"}, entry("example.com/v1", "m", "Apply", fields{"f:spec": fields{"f:a": fields{}}}))
	r := NewRendering(obj)
	full, err := r.Plain(Full)
	if err != nil {
		t.Fatal(err)
	}
	clean, err := r.Plain(Clean)
	if err != nil {
		t.Fatal(err)
	}
	obj.Object["spec"] = map[string]any{"changed": "after rendering"}
	again, _ := r.Plain(Full)
	if string(again) != string(full) {
		t.Errorf("second Plain(Full) rendered again: %s", again)
	}
	want := "apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: x\n  namespace: ns\nspec:\n  a: \"1\"\n"
	if diff := cmp.Diff(want, string(clean)); diff != "" {
		t.Errorf("Clean (-want +got):\n%s", diff)
	}
}
