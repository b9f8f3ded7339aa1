package snapshot_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
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

// TestCleanCorpus makes every object of the public manifests in testdata/corpus by create and
// by server-side apply, and asserts each Clean file holds exactly the manifest: no value it
// wrote is lost, and nothing is added but a list item's key fields (a port's protocol) and
// metadata.namespace.
func TestCleanCorpus(t *testing.T) {
	env, err := kubetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c := kubetest.NewClient(t, env.Config)
	d := defaulting.Compiled(nil)
	ways := []string{"create", "apply"}
	for _, way := range ways {
		c.Namespace(t, "corpus-"+way)
	}
	files, _ := filepath.Glob("testdata/corpus/*.yaml")
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	objects := 0
	for _, file := range files {
		for _, manifest := range kubetest.Decode(t, readFile(t, file)) {
			objects++
			name := strings.TrimSuffix(filepath.Base(file), ".yaml") + "/" + manifest.GetKind() + "/" + manifest.GetName()
			t.Run(name, func(t *testing.T) {
				for _, way := range ways {
					obj := manifest.DeepCopy()
					namespaced := c.Namespaced(t, obj)
					live := makeWay(t, c, obj, way, "corpus-")
					if !namespaced {
						// One at a time: made the next way once this one is gone.
						live.SetNamespace("")
						deleteAndWait(t, c, live)
					}
					b, err := snapshot.PlainWith(live, snapshot.Clean, d)
					if err != nil {
						t.Fatal(err)
					}
					var got map[string]any
					if err := yaml.Unmarshal(b, &got); err != nil {
						t.Fatal(err)
					}
					want := manifestAsWritten(manifest.Object, live.GetName(), live.GetNamespace())
					// What the file leaves out, defaulting must put back: applied anywhere, it
					// makes the object the manifest makes.
					defaulted := got
					if kind := d.For(live.GroupVersionKind()); kind != nil {
						if defaulted, err = kind.Default(got); err != nil {
							t.Fatal(err)
						}
						defaulted["apiVersion"], defaulted["kind"] = got["apiVersion"], got["kind"]
					}
					for _, p := range missing(want, defaulted, nil) {
						t.Errorf("made by %s: the file lost %s\n%s", way, p, b)
					}
					for _, p := range missing(got, want, nil) {
						if !allowedExtra(p) {
							t.Errorf("made by %s: the file added %s\n%s", way, p, b)
						}
					}
					if os.Getenv("CORPUS_DUMP") != "" && t.Failed() {
						dump, _ := yaml.Marshal(live.Object)
						_ = os.WriteFile(filepath.Join(os.Getenv("CORPUS_DUMP"), strings.ReplaceAll(name, "/", "_")+"."+way+".yaml"), dump, 0o644)
					}
				}
			})
		}
	}
	t.Logf("%d objects of %d files", objects, len(files))
}

// manifestAsWritten is a manifest as a file would hold it: its name and namespace as made,
// without what a file never holds (a null creationTimestamp, status).
func manifestAsWritten(m map[string]any, name, namespace string) map[string]any {
	out := runtime.DeepCopyJSON(m)
	delete(out, "status")
	md, _ := out["metadata"].(map[string]any)
	delete(md, "creationTimestamp")
	md["name"] = name
	if namespace != "" {
		md["namespace"] = namespace
	} else {
		delete(md, "namespace")
	}
	return out
}

// allowedExtra are the paths a Clean file may hold that its manifest lacks: a list item's key
// field the server defaulted (protocol), and serviceAccountName, which the server sets from
// its deprecated alias serviceAccount (and the alias from it).
func allowedExtra(p string) bool {
	return strings.HasSuffix(p, ".protocol") || strings.HasSuffix(p, "spec.serviceAccountName")
}

// missing lists the paths of a's leaves that b lacks or holds otherwise. Numbers compare by
// value and quantities by amount (the server writes 0.5 CPU as 500m).
func missing(a, b any, path []string) []string {
	switch a := a.(type) {
	case map[string]any:
		bm, _ := b.(map[string]any)
		if len(a) == 0 && bm == nil {
			return []string{strings.Join(path, ".")}
		}
		var out []string
		for k, v := range a {
			bv, ok := bm[k]
			if !ok {
				out = append(out, strings.Join(append(path, k), "."))
				continue
			}
			out = append(out, missing(v, bv, append(path, k))...)
		}
		return out
	case []any:
		bl, _ := b.([]any)
		if len(bl) != len(a) {
			return []string{strings.Join(path, ".") + " (a list of another length)"}
		}
		var out []string
		for i := range a {
			out = append(out, missing(a[i], bl[i], append(path, "["+strconv.Itoa(i)+"]"))...)
		}
		return out
	}
	if sameScalar(a, b) {
		return nil
	}
	return []string{strings.Join(path, ".") + fmt.Sprintf(" (%v, not %v)", a, b)}
}

func sameScalar(a, b any) bool {
	if fmt.Sprint(a) == fmt.Sprint(b) {
		return true
	}
	qa, errA := resource.ParseQuantity(fmt.Sprint(a))
	qb, errB := resource.ParseQuantity(fmt.Sprint(b))
	return errA == nil && errB == nil && qa.Cmp(qb) == 0
}

// deleteAndWait deletes a cluster-scoped object and waits until it is gone.
func deleteAndWait(t *testing.T, c *kubetest.Client, obj *unstructured.Unstructured) {
	t.Helper()
	ri := c.Resource(t, obj)
	if err := ri.Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 300 {
		if _, err := ri.Get(context.Background(), obj.GetName(), metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s %s not gone", obj.GetKind(), obj.GetName())
}
