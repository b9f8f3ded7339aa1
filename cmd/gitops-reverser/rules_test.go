package main

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// apply creates docs and deletes them when the test ends.
func apply(t *testing.T, c *kubetest.Client, docs string) {
	t.Helper()
	c.Create(t, docs)
	t.Cleanup(func() { c.Delete(t, docs) })
}

func destinationYAML(ns, name, url, extra string) string {
	return `
apiVersion: reverser.gitops.dev/v1alpha1
kind: GitDestination
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  url: ` + url + `
` + extra
}

func TestSnapshotFromRules(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	c.InstallCRDs(t, orderCRD)
	const ns = "shop-rules"
	c.Namespace(t, ns)
	c.Create(t, shopObjects(ns))
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "backup", remote.URL, "  baseFolder: clusters/test\n  committer: {name: Backup Bot, email: backup@example.com}\n")+`
---
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: shop, namespace: `+ns+`}
spec:
  destinationRef: {name: backup}
  rules:
  - apiGroups: [""]
    resources: [configmaps, secrets]
  - apiGroups: [shop.example.com]
    resources: ["*"]
---
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: dangling, namespace: `+ns+`}
spec:
  destinationRef: {name: nowhere}
  rules:
  - apiGroups: [""]
    resources: [configmaps]
---
apiVersion: reverser.gitops.dev/v1alpha1
kind: ClusterWatchRule
metadata: {name: crds-to-backup}
spec:
  destinationRef: {name: backup, namespace: `+ns+`}
  rules:
  - apiGroups: [apiextensions.k8s.io]
    resources: [customresourcedefinitions]
    scope: Cluster
`)
	_, stderr, err := cli(t, "snapshot", "--kubeconfig", kubeconfig(t, "default"))
	if err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "DestinationNotFound") {
		t.Errorf("the dangling rule is not reported:\n%s", stderr)
	}
	files := remote.Files(t, "main")
	for _, p := range []string{
		"clusters/test/" + ns + "/configmaps/app.yaml",
		"clusters/test/" + ns + "/configmaps/settings.yaml",
		"clusters/test/" + ns + "/icecreamorders.shop.example.com/alices-order.yaml",
		"clusters/test/_cluster/customresourcedefinitions.apiextensions.k8s.io/icecreamorders.shop.example.com.yaml",
		"clusters/test/_cluster/customresourcedefinitions.apiextensions.k8s.io/gitdestinations.reverser.gitops.dev.yaml",
	} {
		if _, ok := files[p]; !ok {
			t.Errorf("missing %s; have %v", p, keys(files))
		}
	}
	for p := range files {
		if strings.Contains(p, "/secrets/") || strings.Contains(p, "deployments") || strings.Contains(p, "kube-root-ca.crt") {
			t.Errorf("unexpected file %s", p)
		}
	}
	if got, want := files["clusters/test/"+ns+"/configmaps/app.yaml"], wantApp(ns); got != want {
		t.Errorf("app.yaml = %q, want %q", got, want)
	}
	assertNoSecret(t, remote)
	// The CronJob leaves the same status the controller would.
	cond, st := ready(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "backup"})
	if cond.Status != metav1.ConditionTrue || cond.Reason != v1alpha1.ReasonSynced || st["lastCommit"] != remote.Head(t, "main") {
		t.Errorf("status after snapshot: %+v %v", cond, st)
	}
	log := remote.Log(t, "main")
	if len(log) != 1 || log[0].CommitterName != "Backup Bot" || log[0].AuthorEmail != "backup@example.com" {
		t.Errorf("commits = %+v, want one by the destination's committer", log)
	}
	// A destination whose remote is gone makes the run fail, with a one-line reason.
	gone := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "broken", gone.URL+"-missing", ""))
	_, stderr, err = cli(t, "snapshot", "--kubeconfig", kubeconfig(t, "default"))
	if err == nil {
		t.Fatalf("snapshot with a missing remote succeeded:\n%s", stderr)
	}
	if cond, _ := ready(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "broken"}); cond.Status != metav1.ConditionFalse || cond.Reason == "" {
		t.Errorf("status of the broken destination: %+v", cond)
	}
	// Other destinations still got their snapshot.
	if n := remote.Count(t, "main"); n != 1 {
		t.Errorf("unchanged destination got a commit: %d", n)
	}
	c.Delete(t, destinationYAML(ns, "broken", "", ""))

	// A destination whose credentials Secret is missing fails the run too, and says why.
	apply(t, c, destinationYAML(ns, "no-secret", "https://git.example.com/x.git", "  secretRef: {name: missing}\n"))
	_, stderr, err = cli(t, "snapshot", "--kubeconfig", kubeconfig(t, "default"))
	if err == nil || !strings.Contains(stderr, "no-secret") || !strings.Contains(stderr, "not found") {
		t.Errorf("missing Secret: err %v, stderr:\n%s", err, stderr)
	}
}

// TestSchemaRejectsBadSpecs checks the validation generated into the CRDs, as the apiserver applies it.
func TestSchemaRejectsBadSpecs(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "schema"
	c.Namespace(t, ns)
	tests := []struct{ name, doc, want string }{
		{"subresource", watchRule(ns, "logs", "git", "pods/log"), "resources"},
		{"base folder with ..", destinationYAML(ns, "up", "https://git.example.com/x.git", "  baseFolder: a/../../b\n"), "baseFolder"},
		{"absolute base folder", destinationYAML(ns, "abs", "https://git.example.com/x.git", "  baseFolder: /etc\n"), "baseFolder"},
		{"url scheme", destinationYAML(ns, "ftp", "ftp://example.com/x", ""), "url"},
		{"scope", `
apiVersion: reverser.gitops.dev/v1alpha1
kind: ClusterWatchRule
metadata: {name: bad-scope}
spec:
  destinationRef: {name: git, namespace: ` + ns + `}
  rules:
  - {apiGroups: [""], resources: [configmaps], scope: Everywhere}
`, "scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.TryCreate(t, tc.doc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("create: %v, want a validation error about %s", err, tc.want)
			}
		})
	}
	// And the defaults a user relies on.
	doc := destinationYAML(ns, "defaults", "git@github.com:acme/cluster.git", "")
	u := c.Create(t, doc)[0]
	t.Cleanup(func() { c.Delete(t, doc) }) // other tests snapshot every GitDestination
	spec := u.Object["spec"].(map[string]any)
	if spec["branch"] != "main" || spec["commitWindow"] != "2s" || spec["prune"] != true {
		t.Errorf("defaults = %v", spec)
	}
}
