package snapshot_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// madeBy are the ways an object is made that TestCleanMadeAnyWay compares: a kubectl create
// (the manifest as JSON, an Update), a client-side kubectl apply (the same with the
// last-applied-configuration annotation), a typed Go client (the manifest through its Go type,
// which writes every field without omitempty, an Update), and a server-side apply.
var madeBy = []string{"create", "client-side", "typed", "apply"}

// TestCleanMadeAnyWay makes every manifest in testdata/defaults/manifests each way on a real
// API server and asserts their Clean files are the same, byte for byte, and that the file
// made again each way (a round trip to a fresh namespace) gives the same file. With -update it
// writes the live objects as the inputs of TestCleanDefaultsGolden.
func TestCleanMadeAnyWay(t *testing.T) {
	env, err := kubetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c := kubetest.NewClient(t, env.Config)
	c.InstallCRDs(t, "internal/snapshot/testdata/defaults/crd.yaml")
	schemas := defaulting.NewSchemas()
	for _, crd := range kubetest.Decode(t, readFile(t, "testdata/defaults/crd.yaml")) {
		if err := schemas.SetUnstructured(crd); err != nil {
			t.Fatal(err)
		}
	}
	d := defaulting.Compiled(schemas)
	for _, way := range madeBy {
		c.Namespace(t, "made-by-"+way)
		c.Namespace(t, "again-by-"+way)
	}
	update := flag.Lookup("update").Value.String() == "true"
	files, _ := filepath.Glob("testdata/defaults/manifests/*.yaml")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			manifest := kubetest.Decode(t, readFile(t, file))[0]
			var first string
			for _, way := range madeBy {
				live := makeWay(t, c, manifest, way, "made-by-")
				if update {
					b, err := yaml.Marshal(live.Object)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join("testdata/defaults", name+"."+way+".in.yaml"), b, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				live.SetNamespace("shop")
				got, err := snapshot.PlainWith(live, snapshot.Clean, d)
				if err != nil {
					t.Fatal(err)
				}
				if first == "" {
					first = string(got)
					continue
				}
				if string(got) != first {
					t.Errorf("Clean file of the object made by %s differs from the one made by %s (-%[2]s +%[1]s):\n%[3]s", way, madeBy[0], cmp.Diff(first, string(got)))
				}
			}
			// Round trip: the file made again each way gives the same file.
			file := kubetest.Decode(t, first)[0]
			for _, way := range madeBy {
				again := makeWay(t, c, file, way, "again-by-")
				again.SetNamespace("shop")
				got, err := snapshot.PlainWith(again, snapshot.Clean, d)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != first {
					t.Errorf("the Clean file made again by %s gives another file (-first +again):\n%s", way, cmp.Diff(first, string(got)))
				}
			}
		})
	}
}

// makeWay makes manifest one way in the namespace <prefix><way> and returns it as stored.
func makeWay(t *testing.T, c *kubetest.Client, manifest *unstructured.Unstructured, way, prefix string) *unstructured.Unstructured {
	t.Helper()
	obj := manifest.DeepCopy()
	obj.SetNamespace(prefix + way)
	ri := c.Resource(t, obj)
	ctx := context.Background()
	var err error
	switch way {
	case "create":
		_, err = ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: "kubectl-create"})
	case "client-side":
		last, err := json.Marshal(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		ann := obj.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann["kubectl.kubernetes.io/last-applied-configuration"] = string(last) + "\n"
		obj.SetAnnotations(ann)
		_, err = ri.Create(ctx, obj, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"})
	case "typed":
		_, err = ri.Create(ctx, typed(t, obj), metav1.CreateOptions{FieldManager: "typed-client"})
	case "apply":
		_, err = ri.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "kubectl", Force: true})
	}
	if err != nil {
		t.Fatalf("%s %s: %v", way, obj.GetName(), err)
	}
	live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return live
}

// typed is obj as a typed Go client sends it: through its Go type (client-go's scheme, which
// does not default), so every field without omitempty is written. A kind client-go does not
// know (a custom resource) is sent as it is.
func typed(t *testing.T, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	o, err := scheme.Scheme.New(obj.GroupVersionKind())
	if err != nil {
		return obj
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, o); err != nil {
		t.Fatal(err)
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
