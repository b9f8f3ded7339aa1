package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

func configMap(ns, name, data string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: " + ns + "}\ndata: {" + data + "}\n"
}

func watchRule(ns, name, dest, resources string) string {
	return `
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  destinationRef: {name: ` + dest + `}
  rules:
  - apiGroups: [""]
    resources: [` + resources + `]
`
}

// liveSetup makes a namespace with a destination "git" (extra spec lines appended) on a new
// bare remote and a WatchRule "cms" for its ConfigMaps: the start of most controller tests.
func liveSetup(t *testing.T, ns, extra string) (*kubetest.Client, *gitserver.Remote) {
	t.Helper()
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "git", remote.URL, extra))
	apply(t, c, watchRule(ns, "cms", "git", "configmaps"))
	return c, remote
}

func TestRunConfigMapLifecycle(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "live-cm"
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	// An object that exists before the rule: backfilled.
	c.Create(t, configMap(ns, "before", "a: \"1\""))
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n"))
	p := startController(t)
	rule := watchRule(ns, "cms", "git", "configmaps")
	c.Create(t, rule)

	waitFile(t, remote, ns+"/configmaps/before.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: before\n  namespace: "+ns+"\ndata:\n  a: \"1\"\n")
	waitReady(t, c, v1alpha1.WatchRules, types.NamespacedName{Namespace: ns, Name: "cms"}, metav1.ConditionTrue, v1alpha1.ReasonWatching)

	c.Create(t, configMap(ns, "app", "color: blue"))
	first := waitSubject(t, remote, "[CREATE] "+ns+"/configmaps/app")
	if first.AuthorName != "gitops-reverser" || strings.Contains(first.Body, "Kubernetes-User") {
		t.Errorf("unknown author must be the committer without trailer: %+v", first)
	}
	c.Update(t, configMap(ns, "app", "color: green"))
	waitSubject(t, remote, "[UPDATE] "+ns+"/configmaps/app")
	waitFile(t, remote, ns+"/configmaps/app.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: "+ns+"\ndata:\n  color: green\n")

	// A write that changes nothing we keep (a label-less no-op update, and a managedFields-only
	// change through server-side apply of the same content) makes no commit.
	before := remote.Count(t, "main")
	c.Update(t, configMap(ns, "app", "color: green"))
	c.Delete(t, configMap(ns, "app", ""))
	waitSubject(t, remote, "[DELETE] "+ns+"/configmaps/app")
	if got := remote.Count(t, "main"); got != before+1 {
		t.Errorf("commits after no-op update and delete = %d, want %d", got, before+1)
	}
	waitFile(t, remote, ns+"/configmaps/app.yaml", "")

	st := waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "git"}, metav1.ConditionTrue, v1alpha1.ReasonSynced)
	if st["lastCommit"] != remote.Head(t, "main") {
		t.Errorf("status.lastCommit = %v, want %s", st["lastCommit"], remote.Head(t, "main"))
	}

	// Deleting the rule removes its files.
	c.Delete(t, rule)
	waitFile(t, remote, ns+"/configmaps/before.yaml", "")
	if !strings.HasPrefix(remote.Log(t, "main")[0].Subject, "reconcile: 0 added, 0 updated, 1 deleted") {
		t.Errorf("rule removal commit = %q", remote.Log(t, "main")[0].Subject)
	}

	// Metrics and health.
	code, body := httpGet("http://" + p.metrics + "/metrics")
	for _, m := range []string{"gitops_reverser_events_total", "gitops_reverser_pushes_total", "gitops_reverser_watched_resources", "gitops_reverser_last_successful_push_timestamp_seconds"} {
		if code != http.StatusOK || !strings.Contains(body, m) {
			t.Errorf("/metrics lacks %s (status %d)", m, code)
		}
	}
	if code, _ := httpGet("http://" + p.health + "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
}

func TestRunRuleProblemsAndWindow(t *testing.T) {
	const ns = "live-window"
	c, remote := liveSetup(t, ns, "  commitWindow: 2s\n")
	apply(t, c, watchRule(ns, "dangling", "nowhere", "configmaps"))
	apply(t, c, watchRule(ns, "typo", "git", "configmapz"))
	startController(t)
	waitReady(t, c, v1alpha1.WatchRules, types.NamespacedName{Namespace: ns, Name: "dangling"}, metav1.ConditionFalse, v1alpha1.ReasonDestinationNotFound)
	waitReady(t, c, v1alpha1.WatchRules, types.NamespacedName{Namespace: ns, Name: "typo"}, metav1.ConditionFalse, v1alpha1.ReasonNoMatchingResources)

	// Three changes by one (unknown) author inside the window: one commit.
	c.Create(t, configMap(ns, "a", "x: \"1\"")+"---\n"+configMap(ns, "b", "x: \"1\"")+"---\n"+configMap(ns, "c", "x: \"1\""))
	commit := waitSubject(t, remote, "[CREATE] 3 objects")
	for _, n := range []string{"a", "b", "c"} {
		if !strings.Contains(commit.Body, "[CREATE] "+ns+"/configmaps/"+n) {
			t.Errorf("body lacks %s:\n%s", n, commit.Body)
		}
	}
}

const widgetCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.test.example.com
spec:
  group: test.example.com
  names: {kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

func TestRunCRDsComeAndGo(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "live-crd"
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n"))
	// Rules for the CRDs and for a kind whose CRD does not exist yet.
	apply(t, c, `
apiVersion: reverser.gitops.dev/v1alpha1
kind: ClusterWatchRule
metadata: {name: live-crd}
spec:
  destinationRef: {name: git, namespace: `+ns+`}
  rules:
  - apiGroups: [apiextensions.k8s.io]
    resources: [customresourcedefinitions]
  - apiGroups: [test.example.com]
    resources: [widgets]
`)
	startController(t)
	waitReady(t, c, v1alpha1.ClusterWatchRules, types.NamespacedName{Name: "live-crd"}, metav1.ConditionFalse, v1alpha1.ReasonNoMatchingResources)

	c.Create(t, widgetCRD)
	t.Cleanup(func() { c.Delete(t, widgetCRD) })
	crdPath := "_cluster/customresourcedefinitions.apiextensions.k8s.io/widgets.test.example.com.yaml"
	eventually(t, 30*time.Second, "CRD file", func() (bool, string) {
		_, ok := remote.Files(t, "main")[crdPath]
		return ok, strings.Join(keys(remote.Files(t, "main")), ",")
	})
	waitReady(t, c, v1alpha1.ClusterWatchRules, types.NamespacedName{Name: "live-crd"}, metav1.ConditionTrue, v1alpha1.ReasonWatching)

	widget := `
apiVersion: test.example.com/v1
kind: Widget
metadata:
  name: w1
  namespace: ` + ns + `
  labels: {tier: gold}
  annotations: {note: keep-me}
spec: {size: 3}
`
	var objs = createEventually(t, c, widget)
	path := ns + "/widgets.test.example.com/w1.yaml"
	want := "apiVersion: test.example.com/v1\nkind: Widget\nmetadata:\n  annotations:\n    note: keep-me\n  labels:\n    tier: gold\n  name: w1\n  namespace: " + ns + "\nspec:\n  size: 3\n"
	waitFile(t, remote, path, want)

	// A status-only change makes no commit.
	count := remote.Count(t, "main")
	obj := objs[0]
	obj.Object["status"] = map[string]any{"phase": "Ready"}
	if _, err := c.Resource(t, obj).UpdateStatus(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Update(t, strings.Replace(widget, "size: 3", "size: 4", 1))
	waitSubject(t, remote, "[UPDATE] "+ns+"/widgets.test.example.com/w1")
	if got := remote.Count(t, "main"); got != count+1 {
		t.Errorf("status-only change made a commit: %d commits, want %d", got, count+1)
	}
	if strings.Contains(remote.Files(t, "main")[path], "phase") {
		t.Errorf("status reached Git")
	}
	c.Delete(t, widget)
	waitSubject(t, remote, "[DELETE] "+ns+"/widgets.test.example.com/w1")

	c.Delete(t, widgetCRD)
	waitFile(t, remote, crdPath, "")
}

// createEventually creates docs, retrying while a just-installed CRD is not served yet.
func createEventually(t *testing.T, c *kubetest.Client, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	eventually(t, 30*time.Second, "create", func() (bool, string) {
		objs, err := c.TryCreate(t, docs)
		out = objs
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	return out
}

func TestRunRestartConverges(t *testing.T) {
	const ns = "live-restart"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n")
	c.Create(t, configMap(ns, "keep", "v: \"1\"")+"---\n"+configMap(ns, "change", "v: \"1\"")+"---\n"+configMap(ns, "drop", "v: \"1\""))
	p := startController(t)
	waitFile(t, remote, ns+"/configmaps/drop.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: drop\n  namespace: "+ns+"\ndata:\n  v: \"1\"\n")
	p.stop(t)

	// While it is down.
	c.Update(t, configMap(ns, "change", "v: \"2\""))
	c.Delete(t, configMap(ns, "drop", ""))
	c.Create(t, configMap(ns, "new", "v: \"1\""))

	startController(t)
	waitFile(t, remote, ns+"/configmaps/drop.yaml", "")
	waitFile(t, remote, ns+"/configmaps/change.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: change\n  namespace: "+ns+"\ndata:\n  v: \"2\"\n")
	waitFile(t, remote, ns+"/configmaps/new.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: new\n  namespace: "+ns+"\ndata:\n  v: \"1\"\n")
	if _, ok := remote.Files(t, "main")[ns+"/configmaps/keep.yaml"]; !ok {
		t.Errorf("unchanged object's file is gone")
	}
}
