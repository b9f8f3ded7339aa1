package snapshot

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const sanitizeDir = "testdata/sanitize"

func goldenCases(t *testing.T) []string {
	t.Helper()
	ins, err := filepath.Glob(filepath.Join(sanitizeDir, "*.in.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ins) == 0 {
		t.Fatal("no golden cases in " + sanitizeDir)
	}
	names := make([]string, 0, len(ins))
	for _, in := range ins {
		names = append(names, strings.TrimSuffix(filepath.Base(in), ".in.yaml"))
	}
	return names
}

func TestRenderGolden(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			in := readObject(t, filepath.Join(sanitizeDir, name+".in.yaml"))
			before := in.DeepCopy()

			got, err := Render(in)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if diff := cmp.Diff(before.Object, in.Object); diff != "" {
				t.Errorf("Render changed its input (-before +after):\n%s", diff)
			}

			goldenFile := filepath.Join(sanitizeDir, name+".golden.yaml")
			if *update {
				if err := os.WriteFile(goldenFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenFile)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("Render mismatch (-golden +got):\n%s", diff)
			}
		})
	}
}

// TestRenderRoundTrip reads every rendered file back the way kubectl and Flux do and expects
// exactly the sanitized object.
func TestRenderRoundTrip(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			in := readObject(t, filepath.Join(sanitizeDir, name+".in.yaml"))
			got, err := Render(in)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			want := normalize(t, Sanitize(in).Object)
			if diff := cmp.Diff(want, readBack(t, got)); diff != "" {
				t.Errorf("read back differs from the sanitized object (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRenderIdempotent stands in for "apply the file to a fresh cluster and snapshot again":
// rendering the object a file describes gives the file back.
func TestRenderIdempotent(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			first, err := Render(readObject(t, filepath.Join(sanitizeDir, name+".in.yaml")))
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			second, err := Render(decodeObject(t, first))
			if err != nil {
				t.Fatalf("Render of rendered file: %v", err)
			}
			if diff := cmp.Diff(string(first), string(second)); diff != "" {
				t.Errorf("second render differs (-first +second):\n%s", diff)
			}
		})
	}
}

func TestRenderSecret(t *testing.T) {
	const value = "c3VwZXItc2VjcmV0LXBhc3N3b3Jk" // base64("super-secret-password")
	secret := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": "db", "namespace": "shop", "uid": "u-1"},
		"data":       map[string]any{"password": value},
		"stringData": map[string]any{"token": "plain-token"},
		"type":       "Opaque",
	}}

	got, err := Render(secret)
	if !errors.Is(err, ErrSecret) {
		t.Fatalf("Render(Secret) error = %v, want ErrSecret", err)
	}
	if got != nil {
		t.Errorf("Render(Secret) returned bytes: %q", got)
	}
	for _, leak := range []string{value, "super-secret-password", "plain-token"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("error %q leaks a secret value", err)
		}
	}

	// Encryption code sanitizes Secrets itself: Sanitize must keep the data.
	sanitized := Sanitize(secret)
	if diff := cmp.Diff(map[string]any{"password": value}, sanitized.Object["data"]); diff != "" {
		t.Errorf("Sanitize(Secret) data (-want +got):\n%s", diff)
	}
	if _, ok := sanitized.Object["metadata"].(map[string]any)["uid"]; ok {
		t.Error("Sanitize(Secret) kept metadata.uid")
	}
}

func TestRenderSecretKindInOtherGroup(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "vault.example.com/v1",
		"kind":       "Secret",
		"metadata":   map[string]any{"name": "ref"},
		"spec":       map[string]any{"path": "kv/app"},
	}}
	got, err := Render(obj)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want := "apiVersion: vault.example.com/v1\nkind: Secret\nmetadata:\n  name: ref\nspec:\n  path: kv/app\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Render (-want +got):\n%s", diff)
	}
}

// TestRenderDeterministic renders the same object many times and as maps built in opposite
// insertion orders; Go randomizes map iteration, so any order leak shows up as different bytes.
func TestRenderDeterministic(t *testing.T) {
	in := readObject(t, filepath.Join(sanitizeDir, "deployment.in.yaml"))
	want, err := Render(in)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for i := range 20 {
		got, err := Render(in)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("render %d differs:\n%s\nvs\n%s", i, want, got)
		}
	}

	for _, tc := range []struct {
		name    string
		reverse bool
	}{{"sorted insertion", false}, {"reverse insertion", true}} {
		t.Run(tc.name, func(t *testing.T) {
			rebuilt := &unstructured.Unstructured{Object: rebuildMaps(in.Object, tc.reverse).(map[string]any)}
			got, err := Render(rebuilt)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("(-original +rebuilt):\n%s", diff)
			}
		})
	}
}

// rebuildMaps copies v, inserting map keys in sorted or reverse-sorted order.
func rebuildMaps(v any, reverse bool) any {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if reverse {
			slices.Reverse(keys)
		}
		out := make(map[string]any, len(v))
		for _, k := range keys {
			out[k] = rebuildMaps(v[k], reverse)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, item := range v {
			out[i] = rebuildMaps(item, reverse)
		}
		return out
	}
	return v
}

func TestSanitizeRules(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		want map[string]any
	}{
		{
			name: "ExternalName Service loses its empty clusterIP",
			in: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "ext"},
				"spec": map[string]any{"type": "ExternalName", "externalName": "db.example.com", "clusterIP": ""}},
			want: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "ext"},
				"spec": map[string]any{"type": "ExternalName", "externalName": "db.example.com"}},
		},
		{
			name: "Service without spec is left alone",
			in:   map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s"}},
			want: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "s"}},
		},
		{
			name: "clusterIP of a non-Service kind is kept",
			in: map[string]any{"apiVersion": "example.com/v1", "kind": "Service", "metadata": map[string]any{"name": "s"},
				"spec": map[string]any{"clusterIP": "10.0.0.1"}},
			want: map[string]any{"apiVersion": "example.com/v1", "kind": "Service", "metadata": map[string]any{"name": "s"},
				"spec": map[string]any{"clusterIP": "10.0.0.1"}},
		},
		{
			name: "Job template labels that were only controller labels are dropped",
			in: map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "j"},
				"spec": map[string]any{
					"selector": map[string]any{"matchLabels": map[string]any{"controller-uid": "u"}},
					"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{
						"controller-uid": "u", "batch.kubernetes.io/controller-uid": "u"}}},
				}},
			want: map[string]any{"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": "j"},
				"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{}}}},
		},
		{
			name: "Job of another group is left alone",
			in: map[string]any{"apiVersion": "example.com/v1", "kind": "Job", "metadata": map[string]any{"name": "j"},
				"spec": map[string]any{"selector": map[string]any{}}},
			want: map[string]any{"apiVersion": "example.com/v1", "kind": "Job", "metadata": map[string]any{"name": "j"},
				"spec": map[string]any{"selector": map[string]any{}}},
		},
		{
			name: "PVC the user bound keeps volumeName",
			in: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
				"metadata": map[string]any{"name": "c", "annotations": map[string]any{
					"pv.kubernetes.io/bind-completed": "yes", "note": "pinned"}},
				"spec": map[string]any{"volumeName": "pv-1"}},
			want: map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
				"metadata": map[string]any{"name": "c", "annotations": map[string]any{"note": "pinned"}},
				"spec":     map[string]any{"volumeName": "pv-1"}},
		},
		{
			name: "PV without claimRef is left alone",
			in: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv"},
				"spec": map[string]any{"capacity": map[string]any{"storage": "1Gi"}}},
			want: map[string]any{"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": "pv"},
				"spec": map[string]any{"capacity": map[string]any{"storage": "1Gi"}}},
		},
		{
			name: "null labels and annotations are dropped, user ones kept",
			in: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "c", "labels": nil, "annotations": map[string]any{
					"control-plane.alpha.kubernetes.io/leader": "{}", "keep": ""}}},
			want: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
				"metadata": map[string]any{"name": "c", "annotations": map[string]any{"keep": ""}}},
		},
		{
			name: "object without metadata",
			in:   map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{}, "status": map[string]any{}},
			want: map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &unstructured.Unstructured{Object: tc.in}
			before := in.DeepCopy()
			got := Sanitize(in)
			if diff := cmp.Diff(tc.want, got.Object); diff != "" {
				t.Errorf("Sanitize (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before.Object, in.Object); diff != "" {
				t.Errorf("Sanitize changed its input (-before +after):\n%s", diff)
			}
		})
	}
}

func TestSanitizeNil(t *testing.T) {
	if got := Sanitize(nil); got != nil {
		t.Errorf("Sanitize(nil) = %v, want nil", got)
	}
}

func TestHash(t *testing.T) {
	a, b := []byte("kind: ConfigMap\n"), []byte("kind: Secret\n")
	if Hash(a) != Hash([]byte("kind: ConfigMap\n")) {
		t.Error("Hash is not stable for equal input")
	}
	if Hash(a) == Hash(b) {
		t.Error("Hash is equal for different input")
	}
	// First 16 bytes of sha256("").
	if diff := cmp.Diff("e3b0c44298fc1c149afbf4c8996fb924", Hash(nil)); diff != "" {
		t.Errorf("Hash(nil) (-want +got):\n%s", diff)
	}
}
