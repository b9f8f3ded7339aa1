package main

import (
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// TestRunUnlistableResourceHoldsNoOne: the controller may not list ServiceAccounts, which one
// destination's rule asks for. That resource never syncs; the other destination's first resync
// does not wait for it (it used to wait for every informer, up to five minutes).
func TestRunUnlistableResourceHoldsNoOne(t *testing.T) {
	const ns, user = "live-unlistable", "limited-controller"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	apply(t, c, `
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: `+user+`}
rules:
- {apiGroups: [reverser.gitops.dev], resources: ["*"], verbs: ["*"]}
- {apiGroups: [""], resources: [configmaps, namespaces], verbs: [get, list, watch]}
- {apiGroups: [""], resources: [secrets], verbs: [get]}
- {apiGroups: ["", events.k8s.io], resources: [events], verbs: [create, patch, update]}
- {apiGroups: [apiextensions.k8s.io], resources: [customresourcedefinitions], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: `+user+`}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: `+user+`}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: `+user+`}]
`)
	blocked, free := gitserver.NewBare(t, "main"), gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "blocked", blocked.URL, "  commitWindow: 0s\n"))
	apply(t, c, destinationYAML(ns, "free", free.URL, "  commitWindow: 0s\n"))
	apply(t, c, watchRule(ns, "blocked", "blocked", "configmaps, serviceaccounts"))
	apply(t, c, watchRule(ns, "free", "free", "configmaps"))
	c.Create(t, configMap(ns, "before", "v: \"1\""))

	// The controller acts as the limited user.
	kc := kubeconfigAs(t, "default", user)
	startStandby(t, "--kubeconfig", kc)
	eventually(t, 40*time.Second, "the free destination's backfill", func() (bool, string) {
		_, ok := free.Files(t, "main")[ns+"/configmaps/before.yaml"]
		return ok, "not yet"
	})
}
