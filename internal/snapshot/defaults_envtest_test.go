package snapshot_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/client-go/dynamic"
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
	d := serverDefaulter(t, c, schemas)
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
				if way == "apply" || way == "client-side" {
					// Applied again, the file changes nothing the object holds. The first
					// server-side apply after a PVC's create writes once more (as the manifest
					// does), so the object must also stay at one resourceVersion after that.
					after := makeWay(t, c, file, way, "again-by-")
					after.SetNamespace("shop")
					if diff := cmp.Diff(withoutVersion(again), withoutVersion(after)); diff != "" {
						t.Errorf("applying the Clean file again (%s) changed the object (-before +after):\n%s", way, diff)
					}
					if last := makeWay(t, c, file, way, "again-by-"); last.GetResourceVersion() != after.GetResourceVersion() {
						t.Errorf("applying the Clean file again (%s) keeps changing the object: resourceVersion %s, then %s", way, after.GetResourceVersion(), last.GetResourceVersion())
					}
				}
			}
		})
	}
}

// withoutVersion is obj's content: without its resourceVersion and the times of its
// managedFields, which a write that changes nothing may still move.
func withoutVersion(obj *unstructured.Unstructured) map[string]any {
	out := obj.DeepCopy()
	out.SetResourceVersion("")
	fields := out.GetManagedFields()
	for i := range fields {
		fields[i].Time = nil
	}
	out.SetManagedFields(fields)
	return out.Object
}

// clientSideApply is kubectl apply's update of an existing object: a strategic merge patch
// for a kind client-go knows, a JSON merge patch otherwise, each three-way.
func clientSideApply(ctx context.Context, ri dynamic.ResourceInterface, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	const annotation = "kubectl.kubernetes.io/last-applied-configuration"
	live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	modified, err := json.Marshal(obj.Object)
	if err != nil {
		return nil, err
	}
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[annotation] = string(modified) + "\n"
	obj.SetAnnotations(ann)
	if modified, err = json.Marshal(obj.Object); err != nil {
		return nil, err
	}
	original := []byte(live.GetAnnotations()[annotation])
	current, err := json.Marshal(live.Object)
	if err != nil {
		return nil, err
	}
	var patch []byte
	pt := types.MergePatchType
	if typedObj, err := scheme.Scheme.New(obj.GroupVersionKind()); err == nil {
		meta, err := strategicpatch.NewPatchMetaFromStruct(typedObj)
		if err != nil {
			return nil, err
		}
		patch, err = strategicpatch.CreateThreeWayMergePatch(original, modified, current, meta, true)
		if err != nil {
			return nil, err
		}
		pt = types.StrategicMergePatchType
	} else if patch, err = jsonmergepatch.CreateThreeWayJSONMergePatch(original, modified, current); err != nil {
		return nil, err
	}
	if string(patch) == "{}" {
		return live, nil // kubectl sends nothing
	}
	return ri.Patch(ctx, obj.GetName(), pt, patch, metav1.PatchOptions{FieldManager: "kubectl-client-side-apply"})
}

// makeWay makes manifest one way in the namespace <prefix><way> and returns it as stored.
func makeWay(t *testing.T, c *kubetest.Client, manifest *unstructured.Unstructured, way, prefix string) *unstructured.Unstructured {
	t.Helper()
	obj := manifest.DeepCopy()
	obj.SetNamespace(prefix + way)
	switch way {
	case "create":
		return c.CreateAs(t, obj, "kubectl-create")
	case "client-side":
		return c.ClientSideApply(t, obj)
	case "typed":
		return c.CreateAs(t, typed(t, obj), "typed-client")
	case "apply":
		return c.ServerSideApply(t, obj, "kubectl")
	}
	t.Fatalf("no way %q", way)
	return nil
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
// by server-side apply, each file in namespaces of its own, and asserts each Clean file holds
// exactly the manifest: nothing is added but a list item's key fields (a port's protocol) and
// metadata.namespace, and no value is lost. A value a server-side apply wrote is in the file
// (its manager names it) unless it equals its default inside an atomic list or struct; a value
// of a create equal to its default is left out (no API records that the author wrote it), so
// for it the check is that defaulting the file gives the value back. The corpus's CRDs are made
// first and kept, and their custom resources are defaulted with their schemas.
func TestCleanCorpus(t *testing.T) {
	env, err := kubetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c := kubetest.NewClient(t, env.Config)
	schemas := defaulting.NewSchemas()
	d := serverDefaulter(t, c, schemas)
	ways := []string{"create", "apply"}
	files, _ := filepath.Glob("testdata/corpus/*.yaml")
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	type item struct {
		file     int
		name     string
		manifest *unstructured.Unstructured
	}
	var crds, others []item
	for i, file := range files {
		for _, manifest := range kubetest.Decode(t, readFile(t, file)) {
			it := item{i, strings.TrimSuffix(filepath.Base(file), ".yaml") + "/" + manifest.GetKind() + "/" + manifest.GetName(), manifest}
			if manifest.GetKind() == "CustomResourceDefinition" {
				crds = append(crds, it)
			} else {
				others = append(others, it)
			}
		}
		for _, way := range ways {
			c.Namespace(t, corpusPrefix(i)+way)
		}
	}
	defined := map[string]bool{} // group/kind of the corpus's CRDs
	for _, it := range crds {
		group, _, _ := unstructured.NestedString(it.manifest.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(it.manifest.Object, "spec", "names", "kind")
		defined[group+"/"+kind] = true
	}
	custom := 0
	for _, it := range append(crds, others...) {
		if defined[it.manifest.GroupVersionKind().Group+"/"+it.manifest.GetKind()] {
			custom++
		}
		t.Run(it.name, func(t *testing.T) {
			for i, way := range ways {
				obj := it.manifest.DeepCopy()
				namespaced := c.Namespaced(t, obj)
				live := makeWay(t, c, obj, way, corpusPrefix(it.file))
				if !namespaced {
					live.SetNamespace("")
					if obj.GetKind() == "CustomResourceDefinition" && i == len(ways)-1 {
						// The last one stays, for the custom resources of the corpus.
						waitEstablished(t, c, live)
						if err := schemas.SetUnstructured(live); err != nil {
							t.Fatal(err)
						}
					} else {
						// One at a time: made the next way once this one is gone.
						deleteAndWait(t, c, live)
					}
				}
				b, err := snapshot.PlainWith(live, snapshot.Clean, d)
				if err != nil {
					t.Fatal(err)
				}
				var got map[string]any
				if err := yaml.Unmarshal(b, &got); err != nil {
					t.Fatal(err)
				}
				want := manifestAsWritten(it.manifest.Object, live.GetName(), live.GetNamespace())
				for _, p := range missing(got, want, nil) {
					if !allowedExtra(p.String()) {
						t.Errorf("made by %s: the file added %s\n%s", way, p, b)
					}
				}
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
				if way == "apply" {
					// Written by the author: in the file, or a default inside an atomic unit.
					applied := snapshot.AppliedFields(live)
					for _, p := range missing(want, got, nil) {
						if !snapshot.InsideAtomic(live.Object, applied, p) {
							t.Errorf("server-side applied: the file left out %s, which the manifest wrote\n%s", p, b)
						}
					}
				}
				if os.Getenv("CORPUS_DUMP") != "" && t.Failed() {
					dump, _ := yaml.Marshal(live.Object)
					_ = os.WriteFile(filepath.Join(os.Getenv("CORPUS_DUMP"), strings.ReplaceAll(it.name, "/", "_")+"."+way+".yaml"), dump, 0o644)
				}
			}
		})
	}
	t.Logf("%d objects (%d CRDs, %d custom resources) of %d files", len(crds)+len(others), len(crds), custom, len(files))
}

// corpusPrefix begins the names of the namespaces the objects of corpus file i are made in,
// one for each way: their names repeat across files.
func corpusPrefix(i int) string { return fmt.Sprintf("corpus-%02d-", i) }

// serverDefaulter is the defaulting for the test's API server (which may be of an older
// release: make test-versions), with the custom resources of schemas.
func serverDefaulter(t *testing.T, c *kubetest.Client, schemas *defaulting.Schemas) *defaulting.Defaulter {
	t.Helper()
	v, err := c.Kube.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	d, err := defaulting.ForServer(v.Major, v.Minor, schemas)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("API server %s", v.GitVersion)
	return d
}

// waitEstablished waits until crd is established, so its custom resources can be made.
func waitEstablished(t *testing.T, c *kubetest.Client, crd *unstructured.Unstructured) {
	t.Helper()
	ri := c.Resource(t, crd)
	for range 300 {
		live, err := ri.Get(context.Background(), crd.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		for _, cond := range conds {
			if m, _ := cond.(map[string]any); m["type"] == "Established" && m["status"] == "True" {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("CRD %s not established", crd.GetName())
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

// path is where a value sits: map keys as strings, list indexes as ints.
type path []any

func (p path) String() string {
	parts := make([]string, len(p))
	for i, step := range p {
		if n, ok := step.(int); ok {
			parts[i] = "[" + strconv.Itoa(n) + "]"
		} else {
			parts[i] = fmt.Sprint(step)
		}
	}
	return strings.Join(parts, ".")
}

// missing lists the paths of a's leaves that b lacks or holds otherwise (a list of another
// length is one path, the list's). Numbers compare by value and quantities by amount (the
// server writes 0.5 CPU as 500m).
func missing(a, b any, at path) []path {
	switch a := a.(type) {
	case map[string]any:
		bm, _ := b.(map[string]any)
		if len(a) == 0 && bm == nil {
			return []path{at}
		}
		var out []path
		for k, v := range a {
			bv, ok := bm[k]
			if !ok {
				out = append(out, append(slices.Clone(at), k))
				continue
			}
			out = append(out, missing(v, bv, append(slices.Clone(at), k))...)
		}
		return out
	case []any:
		bl, _ := b.([]any)
		if len(bl) != len(a) {
			return []path{at}
		}
		var out []path
		for i := range a {
			out = append(out, missing(a[i], bl[i], append(slices.Clone(at), i))...)
		}
		return out
	}
	if sameScalar(a, b) {
		return nil
	}
	return []path{at}
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
