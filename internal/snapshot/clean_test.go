package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// cleanDir holds live objects as a real API server returned them, managedFields and status
// included (a controller-made ReplicaSet, server-side and client-side applied objects, a
// kubectl create, a CRD and its custom resource, and an HPA read as autoscaling/v2 whose only
// entry was written through autoscaling/v1, so it is written in full), and their Clean files.
const cleanDir = "testdata/clean"

func TestCleanGolden(t *testing.T) {
	ins, err := filepath.Glob(filepath.Join(cleanDir, "*.in.yaml"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden cases in %s: %v", cleanDir, err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".in.yaml")
		t.Run(name, func(t *testing.T) {
			obj := readObject(t, in)
			before := obj.DeepCopy()
			got, err := PlainFor(obj, Clean)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(before.Object, obj.Object); diff != "" {
				t.Errorf("PlainFor changed its input (-before +after):\n%s", diff)
			}
			compareGolden(t, filepath.Join(cleanDir, name+".golden.yaml"), got)

			// What the informer cache keeps gives the same file.
			fromCache, err := NewRendering(Compact(obj)).Plain(Clean)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(got), string(fromCache)); diff != "" {
				t.Errorf("Clean from the compact cache differs (-live +cached):\n%s", diff)
			}

			// Clean only leaves things out: every value it writes is the Full file's.
			full, err := PlainFor(before, Full)
			if err != nil {
				t.Fatal(err)
			}
			if path := notSubset(readBack(t, got), readBack(t, full), ""); path != "" {
				t.Errorf("Clean has %s, which Full has not or differently", path)
			}

			// With the compiled release's defaulting (a server it covers), defaults go too.
			d := testDefaulter(t)
			defaulted, err := PlainWith(obj, Clean, d)
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, filepath.Join(cleanDir, name+".defaulted.golden.yaml"), defaulted)
			if path := notSubset(readBack(t, defaulted), readBack(t, got), ""); path != "" {
				t.Errorf("Clean with defaulting has %s, which Clean without has not or differently", path)
			}
			if ownedFieldsOK(obj) {
				checkDefaultsTo(t, d, obj, defaulted)
			}
		})
	}
}

// compareGolden compares got with the golden file, or rewrites it with -update.
func compareGolden(t *testing.T, goldenFile string, got []byte) {
	t.Helper()
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
		t.Errorf("%s mismatch (-golden +got):\n%s", goldenFile, diff)
	}
}

// ownedFieldsOK reports whether obj has usable managedFields.
func ownedFieldsOK(obj *unstructured.Unstructured) bool {
	_, ok := OwnedFields(obj)
	return ok
}

// notSubset is the first path of sub that is not in super with the same value, "" when none.
// Lists are matched item by item in order, skipping items of super that sub left out.
func notSubset(sub, super any, path string) string {
	switch s := sub.(type) {
	case map[string]any:
		m, ok := super.(map[string]any)
		if !ok {
			return path
		}
		for k, v := range s {
			if p := notSubset(v, m[k], path+"."+k); p != "" {
				return p
			}
		}
		return ""
	case []any:
		l, ok := super.([]any)
		if !ok {
			return path
		}
		j := 0
		for _, item := range s {
			for j < len(l) && notSubset(item, l[j], "") != "" {
				j++
			}
			if j == len(l) {
				return path + "[]"
			}
			j++
		}
		return ""
	}
	if !cmp.Equal(sub, super) {
		return path
	}
	return ""
}
