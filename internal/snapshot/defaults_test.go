package snapshot

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
)

// defaultsDir holds manifests (manifests/), a CRD with schema defaults (crd.yaml), and each
// manifest's object as a real API server stored it when made by kubectl create, by client-side
// kubectl apply, by a typed Go client and by server-side apply (<name>.<way>.in.yaml, written by TestCleanMadeAnyWay
// -update), and their one Clean file (<name>.golden.yaml).
const defaultsDir = "testdata/defaults"

var ways = []string{"create", "client-side", "typed", "apply"}

func testDefaulter(t testing.TB) *defaulting.Defaulter {
	t.Helper()
	schemas := defaulting.NewSchemas()
	if err := schemas.SetUnstructured(readObject(t, filepath.Join(defaultsDir, "crd.yaml"))); err != nil {
		t.Fatal(err)
	}
	return defaulting.Compiled(schemas)
}

// TestCleanDefaultsGolden asserts that an object made any way gives one Clean file, the
// golden one; that the file defaults to what the owned part of the live object defaults to
// (every value that differs from a default is in it); that it holds only values of the Full
// file; and that the informer cache's copy gives the same file.
func TestCleanDefaultsGolden(t *testing.T) {
	d := testDefaulter(t)
	manifests, _ := filepath.Glob(filepath.Join(defaultsDir, "manifests", "*.yaml"))
	if len(manifests) == 0 {
		t.Fatal("no manifests")
	}
	for _, m := range manifests {
		name := strings.TrimSuffix(filepath.Base(m), ".yaml")
		t.Run(name, func(t *testing.T) {
			var first []byte
			for _, way := range ways {
				live := readObject(t, filepath.Join(defaultsDir, name+"."+way+".in.yaml"))
				live.SetNamespace("shop")
				got, err := PlainWith(live, Clean, d)
				if err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = got
					compareGolden(t, filepath.Join(defaultsDir, name+".golden.yaml"), got)
				} else if diff := cmp.Diff(string(first), string(got)); diff != "" {
					t.Errorf("made by %s: another Clean file than made by %s (-%s +%s):\n%s", way, ways[0], ways[0], way, diff)
				}
				checkDefaultsTo(t, d, live, got)
				fromCache, err := NewRenderingWith(CompactWith(live, d), d).Plain(Clean)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(string(got), string(fromCache)); diff != "" {
					t.Errorf("made by %s: Clean from the compact cache differs (-live +cached):\n%s", way, diff)
				}
				full, err := PlainWith(live, Full, d)
				if err != nil {
					t.Fatal(err)
				}
				if path := notSubset(readBack(t, got), readBack(t, full), ""); path != "" {
					t.Errorf("made by %s: Clean has %s, which Full has not or differently", way, path)
				}
			}
		})
	}
}

// checkDefaultsTo asserts D(file) == D(owned part of live, sanitized).
func checkDefaultsTo(t *testing.T, d *defaulting.Defaulter, live *unstructured.Unstructured, file []byte) {
	t.Helper()
	kind := d.For(live.GroupVersionKind())
	if kind == nil {
		return
	}
	set, _, ok := ownedFields(live)
	if !ok {
		t.Fatal("no managedFields")
	}
	owned := Sanitize(keepOwned(live, set))
	dropRegistryAnnotations(owned.Object)
	want, err := kind.Default(owned.Object)
	if err != nil {
		t.Fatal(err)
	}
	got, err := kind.Default(readBack(t, file).(map[string]any))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the file defaults to another object than the owned part of the live one (-owned +file):\n%s", diff)
	}
}
