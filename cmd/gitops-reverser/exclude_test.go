package main

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// ssa server-side applies a ConfigMap under a field manager, as Flux and Argo CD do.
func ssa(t *testing.T, c *kubetest.Client, manager, ns, name, value string) {
	t.Helper()
	u := kubetest.Decode(t, configMap(ns, name, "v: \""+value+"\""))[0]
	_, err := c.Dynamic.Resource(kubetest.GVR("", "v1", "configmaps")).Namespace(ns).Apply(context.Background(), name, u,
		metav1.ApplyOptions{FieldManager: manager, Force: true})
	if err != nil {
		t.Fatal(err)
	}
}

// commitOf waits for the commit whose subject is subject and returns it.
func commitOf(t *testing.T, remote *gitserver.Remote, subject string) gitserver.Commit {
	t.Helper()
	var found gitserver.Commit
	eventually(t, 30*time.Second, subject, func() (bool, string) {
		for _, c := range remote.Log(t, "main") {
			if c.Subject == subject {
				found = c
				return true, ""
			}
		}
		return false, ""
	})
	return found
}

// TestRunExcludedWriters: objects applied by GitOps tools (field managers kustomize-controller,
// helm-controller, argocd-controller) stay out of Git, and leave it when a rule starts
// excluding them; a hand edit of one is written, authored by whoever made it; a write by an
// excluded user makes no commit of its own.
func TestRunExcludedWriters(t *testing.T) {
	const ns = "exclude"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n"))
	rule := watchRule(ns, "cms", "git", "configmaps")
	apply(t, c, rule)
	grantUsers(t, c, "exclude-test")
	ssa(t, c, "kustomize-controller", ns, "flux-cm", "1")
	_, flags := webhookFlags(t, c, "exclude-test", "")
	startController(t, append(flags, "--resync-interval", "0")...)
	files := func() map[string]string { return remote.Files(t, "main") }
	eventually(t, 30*time.Second, "backfill", func() (bool, string) { return files()[ns+"/configmaps/flux-cm.yaml"] != "", "" })

	// The rule starts excluding the tools and the bot: flux-cm leaves Git.
	c.Update(t, rule+`  excludeFieldManagers: [kustomize-controller, helm-controller, argocd-controller]
  excludeUsers: ["`+bot+`"]
`)
	prune := commitOf(t, remote, "reconcile: 0 added, 0 updated, 1 deleted")
	if prune.Body != "[DELETE] "+ns+"/configmaps/flux-cm" {
		t.Errorf("prune commit body = %q", prune.Body)
	}

	// A tool's new object is not written; jane's is (and marks the point in time).
	ssa(t, c, "helm-controller", ns, "helm-cm", "1")
	janeC := as(t, jane)
	janeC.Create(t, configMap(ns, "janes", "v: \"1\""))
	commitOf(t, remote, "[CREATE] "+ns+"/configmaps/janes")
	time.Sleep(time.Second)
	if _, ok := files()[ns+"/configmaps/helm-cm.yaml"]; ok {
		t.Error("helm-controller's object was written")
	}

	// A hand edit of a tool's object is written, authored by its editor.
	u, err := janeC.Dynamic.Resource(kubetest.GVR("", "v1", "configmaps")).Namespace(ns).Get(context.Background(), "flux-cm", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(u.Object, "hotfix", "data", "v")
	if _, err := janeC.Dynamic.Resource(kubetest.GVR("", "v1", "configmaps")).Namespace(ns).Update(context.Background(), u, metav1.UpdateOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	if edit := commitOf(t, remote, "[CREATE] "+ns+"/configmaps/flux-cm"); edit.AuthorName != jane {
		t.Errorf("the hand edit is authored by %q, want %s", edit.AuthorName, jane)
	}

	// The excluded user's write makes no commit of its own.
	as(t, bot).Create(t, configMap(ns, "bots", "v: \"1\""))
	janeC.Create(t, configMap(ns, "janes2", "v: \"1\""))
	commitOf(t, remote, "[CREATE] "+ns+"/configmaps/janes2")
	time.Sleep(time.Second)
	for _, cm := range remote.Log(t, "main") {
		if cm.Subject == "[CREATE] "+ns+"/configmaps/bots" {
			t.Errorf("the excluded user's write made a commit: %+v", cm)
		}
	}
}
