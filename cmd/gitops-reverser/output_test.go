package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden trees in testdata/clean and testdata/full")

// outputNS is the namespace of the golden trees testdata/clean and testdata/full.
const outputNS = "output-modes"

// outputResources are the resources the output tests snapshot.
const outputResources = "configmaps,services,pods,deployments.apps,networkpolicies.networking.k8s.io"

// web is a Deployment as people write it: no defaults, an emptyDir, a port without protocol.
func web(ns, name string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ` + name + `
  namespace: ` + ns + `
  labels: {app: ` + name + `}
spec:
  replicas: 2
  selector:
    matchLabels: {app: ` + name + `}
  template:
    metadata:
      labels: {app: ` + name + `}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        args: [--port=8080]
        ports:
        - containerPort: 8080
        volumeMounts:
        - {name: cache, mountPath: /cache}
        - {name: config, mountPath: /etc/web}
      volumes:
      - name: cache
        emptyDir: {}
      - name: config
        configMap: {name: ` + name + `}
`
}

func service(ns, name string) string {
	return `apiVersion: v1
kind: Service
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  selector: {app: ` + name + `}
  ports:
  - name: http
    port: 80
    targetPort: 8080
`
}

func outputConfigMap(ns, name string) string {
	return `apiVersion: v1
kind: ConfigMap
metadata: {name: ` + name + `, namespace: ` + ns + `}
data:
  web.conf: |
    listen 8080;
`
}

// serverSideApplied are the objects made with `kubectl apply --server-side`.
func serverSideApplied(ns string) string {
	return web(ns, "applied") + "---\n" + service(ns, "applied") + `---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-egress, namespace: ` + ns + `}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - {}
---
` + scheduledPod(ns, "")
}

// makeOutputObjects creates objects in ns each way a cluster's objects are made: `kubectl
// create` (an Update by kubectl-create), client-side `kubectl apply` (an Update by
// kubectl-client-side-apply with the last-applied annotation), server-side apply, and a typed
// Go client. It returns the manifests whose every value the Clean files must keep.
func makeOutputObjects(t *testing.T, c *kubetest.Client, ns string) []*unstructured.Unstructured {
	t.Helper()
	created := web(ns, "created") + "---\n" + service(ns, "created") + "---\n" + outputConfigMap(ns, "created")
	clientSide := web(ns, "client-side") + "---\n" + outputConfigMap(ns, "client-side")
	for _, obj := range kubetest.Decode(t, created) {
		c.CreateAs(t, obj, "kubectl-create")
	}
	for _, obj := range kubetest.Decode(t, clientSide) {
		c.ClientSideApply(t, obj)
	}
	for _, obj := range kubetest.Decode(t, serverSideApplied(ns)) {
		c.ServerSideApply(t, obj, "kubectl")
	}
	if _, err := c.Kube.AppsV1().Deployments(ns).Create(context.Background(), typedDeployment(ns), metav1.CreateOptions{}); err != nil {
		t.Fatalf("typed create: %v", err)
	}
	return kubetest.Decode(t, created+"---\n"+clientSide+"---\n"+serverSideApplied(ns))
}

// typedDeployment is what a Go program sends: every field of the typed struct that is not
// omitempty comes along with its zero value.
func typedDeployment(ns string) *appsv1.Deployment {
	labels := map[string]string{"app": "typed"}
	replicas := int32(1)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "typed", Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "nginx:1.27",
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
				}}},
			},
		},
	}
}

// bind schedules a Pod as the scheduler does (pods/binding): nodeName is set, and no field
// manager owns it.
func bind(t *testing.T, c *kubetest.Client, ns, name string) {
	t.Helper()
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}
	if err := c.Kube.CoreV1().Pods(ns).Bind(context.Background(), b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind pod %s: %v", name, err)
	}
}

// golden reads the tree under testdata/<dir> (repository layout), with its namespace
// outputNS replaced by ns.
func golden(t *testing.T, dir, ns string) map[string]string {
	t.Helper()
	root := filepath.Join(kubetest.Root(), "testdata", dir)
	tree := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		tree[inNamespace(filepath.ToSlash(rel), ns)] = inNamespace(string(b), ns)
		return nil
	})
	if err != nil {
		t.Fatalf("golden %s: %v (run with -update to write it)", dir, err)
	}
	return tree
}

// inNamespace moves a path or file of the golden namespace to ns.
func inNamespace(s, ns string) string {
	s = strings.ReplaceAll(s, "namespace: "+outputNS+"\n", "namespace: "+ns+"\n")
	if rest, ok := strings.CutPrefix(s, outputNS+"/"); ok {
		return ns + "/" + rest
	}
	return s
}

// assertGolden compares the files of the remote's main branch with testdata/<dir>; with
// -update it writes them there first (only for the golden namespace).
func assertGolden(t *testing.T, remote *gitserver.Remote, dir, ns string) {
	t.Helper()
	files := remote.Files(t, "main")
	if *updateGolden && ns == outputNS {
		root := filepath.Join(kubetest.Root(), "testdata", dir)
		if err := os.RemoveAll(root); err != nil {
			t.Fatal(err)
		}
		for p, content := range files {
			full := filepath.Join(root, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if diff := cmp.Diff(golden(t, dir, ns), files); diff != "" {
		t.Errorf("files differ from testdata/%s (-golden +got):\n%s", dir, diff)
	}
}

// assertKeepsManifests checks that no value a manifest's author wrote is missing from its
// Clean file.
func assertKeepsManifests(t *testing.T, manifests []*unstructured.Unstructured, files map[string]string, resource map[string]string) {
	t.Helper()
	for _, m := range manifests {
		p := m.GetNamespace() + "/" + resource[m.GetKind()] + "/" + m.GetName() + ".yaml"
		var file map[string]any
		if err := yaml.Unmarshal([]byte(files[p]), &file); err != nil || file == nil {
			t.Errorf("%s: no file (%v)", p, err)
			continue
		}
		want := normalizeJSON(t, m.Object)
		delete(want["metadata"].(map[string]any), "annotations") // last-applied: removed on purpose
		if missing := notIn(want, normalizeJSON(t, file), ""); missing != "" {
			t.Errorf("%s lost %s the manifest wrote:\n%s", p, missing, files[p])
		}
	}
}

func normalizeJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// notIn is the first path of want that got does not hold with the same value, "" when got
// holds all of want. List items are compared by position: Clean keeps owned items in order.
func notIn(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return path
		}
		for k, v := range w {
			if missing := notIn(v, g[k], path+"."+k); missing != "" {
				return missing
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) < len(w) {
			return path
		}
		for i := range w {
			if missing := notIn(w[i], g[i], path+"[]"); missing != "" {
				return missing
			}
		}
		return ""
	}
	if !cmp.Equal(want, got) {
		return path
	}
	return ""
}

var outputFolders = map[string]string{
	"Deployment": "deployments.apps", "Service": "services", "ConfigMap": "configmaps",
	"Pod": "pods", "NetworkPolicy": "networkpolicies.networking.k8s.io",
}

// TestSnapshotOutputModes snapshots objects made every way into the default (Clean) files and
// the Full files, switching back and forth, and checks that a change no manager owns (the
// scheduler binding a Pod) makes no Clean commit.
func TestSnapshotOutputModes(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, outputNS)
	manifests := makeOutputObjects(t, c, outputNS)
	remote := gitserver.NewBare(t, "main")
	args := []string{"snapshot", "--kubeconfig", kubeconfig(t, outputNS), "--repo", remote.URL, "-n", outputNS, "--resources", outputResources}
	snapshotAs := func(output string) {
		t.Helper()
		if _, stderr, err := cli(t, append(args, "--output", output)...); err != nil {
			t.Fatalf("snapshot --output %s: %v\n%s", output, err, stderr)
		}
	}

	if _, stderr, err := cli(t, args...); err != nil { // the default is Clean
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	assertGolden(t, remote, "clean", outputNS)
	assertKeepsManifests(t, manifests, remote.Files(t, "main"), outputFolders)

	bind(t, c, outputNS, "scheduled")
	snapshotAs("Clean")
	if n := remote.Count(t, "main"); n != 1 {
		t.Errorf("a change no manager owns (nodeName) made a Clean commit: %d commits", n)
	}

	steps := []struct {
		output, dir string
		commits     int
	}{{"Full", "full", 2}, {"Full", "full", 2}, {"clean", "clean", 3}}
	for _, s := range steps {
		snapshotAs(s.output)
		assertGolden(t, remote, s.dir, outputNS)
		if n := remote.Count(t, "main"); n != s.commits {
			t.Errorf("after --output %s: %d commits, want %d (one per switch)", s.output, n, s.commits)
		}
	}
	log := remote.Log(t, "main")
	for _, cm := range log[:2] {
		if !strings.HasPrefix(cm.Subject, "reconcile: 0 added, ") || !strings.HasSuffix(cm.Subject, " updated, 0 deleted") {
			t.Errorf("switch commit subject = %q, want a reconcile that only updates", cm.Subject)
		}
	}
}

// TestOutputRoundTrip applies the golden files to a fresh cluster with server-side apply (as
// Flux and `kubectl apply --server-side` do) and snapshots that cluster again: the same bytes,
// in both modes; applying them once more changes nothing in the cluster.
func TestOutputRoundTrip(t *testing.T) {
	fresh, err := kubetest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fresh.Stop() })
	c := kubetest.NewClient(t, fresh.Config)
	kc := kubeconfigOf(t, fresh, "default")
	modes := []struct{ output, dir, ns string }{
		{"Clean", "clean", outputNS},
		{"Full", "full", outputNS + "-full"},
	}
	for _, m := range modes {
		t.Run(m.output, func(t *testing.T) {
			c.Namespace(t, m.ns)
			files := golden(t, m.dir, m.ns)
			versions := applyFiles(t, c, files)
			remote := gitserver.NewBare(t, "main")
			if _, stderr, err := cli(t, "snapshot", "--kubeconfig", kc, "--repo", remote.URL, "-n", m.ns, "--resources", outputResources, "--output", m.output); err != nil {
				t.Fatalf("snapshot: %v\n%s", err, stderr)
			}
			assertGolden(t, remote, m.dir, m.ns)
			if diff := cmp.Diff(versions, applyFiles(t, c, files)); diff != "" {
				t.Errorf("re-applying the files changed objects (resourceVersion -first +again):\n%s", diff)
			}
		})
	}
}

// applyFiles server-side applies every file and returns path -> resourceVersion.
func applyFiles(t *testing.T, c *kubetest.Client, files map[string]string) map[string]string {
	t.Helper()
	versions := map[string]string{}
	for p, content := range files {
		obj := kubetest.Decode(t, content)[0]
		versions[p] = c.ServerSideApply(t, obj, "flux").GetResourceVersion()
	}
	return versions
}

// TestRunOutputModes runs the controller on a destination in the default mode: its files, made
// from the informer cache (where managedFields are kept compact), are the Clean ones; the
// scheduler binding a Pod makes no commit; switching spec.output makes one reconcile commit
// each way.
func TestRunOutputModes(t *testing.T) {
	const ns = "live-output"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	c.CreateAs(t, kubetest.Decode(t, web(ns, "created"))[0], "kubectl-create")
	for _, doc := range []string{web(ns, "applied"), scheduledPod(ns, "")} {
		c.ServerSideApply(t, kubetest.Decode(t, doc)[0], "kubectl")
	}
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n")+`---
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: workloads, namespace: `+ns+`}
spec:
  destinationRef: {name: git}
  rules:
  - apiGroups: ["", apps]
    resources: [pods, deployments]
`)
	startController(t)
	waitTree(t, remote, golden(t, "clean", ns), "deployments.apps/applied", "deployments.apps/created", "pods/scheduled")
	before := remote.Count(t, "main")

	// The scheduler binds the Pod (nodeName, which no manager owns); then its owner labels it
	// and takes the label off again: two commits, neither with nodeName.
	bind(t, c, ns, "scheduled")
	podFile := ns + "/pods/scheduled.yaml"
	c.ServerSideApply(t, kubetest.Decode(t, scheduledPod(ns, "tier: batch"))[0], "kubectl")
	eventually(t, 30*time.Second, "labelled pod file", func() (bool, string) {
		got := remote.Files(t, "main")[podFile]
		return strings.Contains(got, "tier: batch"), got
	})
	if got := remote.Files(t, "main")[podFile]; strings.Contains(got, "nodeName") {
		t.Errorf("Clean pod file has the scheduler's nodeName:\n%s", got)
	}
	c.ServerSideApply(t, kubetest.Decode(t, scheduledPod(ns, ""))[0], "kubectl")
	waitTree(t, remote, golden(t, "clean", ns), "deployments.apps/applied", "deployments.apps/created", "pods/scheduled")
	if n := remote.Count(t, "main"); n != before+2 {
		t.Errorf("binding, labelling and unlabelling made %d commits, want 2", n-before)
	}

	for i, output := range []string{"Full", "Clean"} {
		patchOutput(t, c, ns, "git", output)
		waitTree(t, remote, golden(t, strings.ToLower(output), ns), "deployments.apps/applied", "deployments.apps/created", "pods/scheduled")
		log := remote.Log(t, "main")
		if n, want := len(log), before+3+i; n != want {
			t.Errorf("after switching to %s: %d commits, want %d (one)", output, n, want)
		}
		if !strings.HasPrefix(log[0].Subject, "reconcile: 0 added, ") {
			t.Errorf("switch to %s: commit %q, want a reconcile", output, log[0].Subject)
		}
	}
}

// scheduledPod is the Pod of the golden trees, with extra labels when labels is not "".
func scheduledPod(ns, labels string) string {
	md := "{name: scheduled, namespace: " + ns + "}"
	if labels != "" {
		md = "{name: scheduled, namespace: " + ns + ", labels: {" + labels + "}}"
	}
	return `apiVersion: v1
kind: Pod
metadata: ` + md + `
spec:
  containers:
  - name: app
    image: busybox:1.37
    command: [sleep, infinity]
`
}

// waitTree waits until the remote's main branch holds exactly the objects named
// ({resource}/{name} in ns) with their content in want.
func waitTree(t *testing.T, remote *gitserver.Remote, want map[string]string, objects ...string) {
	t.Helper()
	eventually(t, 30*time.Second, "files", func() (bool, string) {
		files := remote.Files(t, "main")
		if len(files) != len(objects) {
			return false, fmt.Sprint(len(files), " files")
		}
		for p, got := range files {
			if w, ok := want[p]; !ok || w != got {
				return false, p + ":\n" + got
			}
		}
		return true, ""
	})
}

// patchOutput sets spec.output of a GitDestination.
func patchOutput(t *testing.T, c *kubetest.Client, ns, name, output string) {
	t.Helper()
	patch := []byte(`{"spec":{"output":"` + output + `"}}`)
	if _, err := c.Dynamic.Resource(v1alpha1.GitDestinations).Namespace(ns).Patch(context.Background(), name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch spec.output: %v", err)
	}
}

func TestOutputBadInput(t *testing.T) {
	kc := kubeconfig(t, "default")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown mode", []string{"--repo", t.TempDir() + "/r", "--output", "neat"}, "--output"},
		{"without --repo", []string{"--output", "Full"}, "need --repo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := cli(t, append([]string{"snapshot", "--kubeconfig", kc}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}

	// The schema: Clean by default, Clean or Full only.
	c := kubetest.NewClient(t, env.Config)
	const ns = "output-schema"
	c.Namespace(t, ns)
	plain := destinationYAML(ns, "plain", "file:///tmp/x.git", "")
	got := c.Create(t, plain)[0]
	c.Delete(t, plain) // `snapshot` without --repo syncs every GitDestination of the cluster
	if out, _, _ := unstructured.NestedString(got.Object, "spec", "output"); out != "Clean" {
		t.Errorf("default spec.output = %q, want Clean", out)
	}
	if _, err := c.TryCreate(t, destinationYAML(ns, "neat", "file:///tmp/x.git", "  output: Neat\n")); err == nil || !strings.Contains(err.Error(), "spec.output") {
		t.Errorf("spec.output: Neat accepted: %v", err)
	}
}
