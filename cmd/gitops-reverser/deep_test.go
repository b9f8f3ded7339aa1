package main

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

const deepCRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: deeps.test.example.com
spec:
  group: test.example.com
  names: {kind: Deep, listKind: DeepList, plural: deeps, singular: deep}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

func deep(ns, name string, depth int) string {
	return "apiVersion: test.example.com/v1\nkind: Deep\nmetadata: {name: " + name + ", namespace: " + ns + "}\nspec: " +
		strings.Repeat("{a: ", depth) + "leaf" + strings.Repeat("}", depth) + "\n"
}

// A custom resource nested deeper than the limit is not written: the controller logs it, keeps
// running, writes the other objects, and says so on the GitDestination's status.
func TestRunObjectTooDeep(t *testing.T) {
	const ns = "live-deep"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n")
	c.Create(t, deepCRD)
	t.Cleanup(func() { c.Delete(t, deepCRD) })
	apply(t, c, `
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: deeps, namespace: `+ns+`}
spec:
  destinationRef: {name: git}
  rules:
  - apiGroups: [test.example.com]
    resources: [deeps]
`)
	createEventually(t, c, deep(ns, "fine", 10)+"---\n"+deep(ns, "too-deep", snapshot.MaxDepth+20))
	p := startController(t)
	eventually(t, 30*time.Second, "the shallow object's file", func() (bool, string) {
		_, ok := remote.Files(t, "main")[ns+"/deeps.test.example.com/fine.yaml"]
		return ok, strings.Join(keys(remote.Files(t, "main")), ",")
	})
	st := waitReady(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "git"}, metav1.ConditionFalse, v1alpha1.ReasonObjectsNotRendered)
	cond, _ := ready(t, c, v1alpha1.GitDestinations, types.NamespacedName{Namespace: ns, Name: "git"})
	if !strings.Contains(cond.Message, "deeps.test.example.com/too-deep.yaml") || !strings.Contains(cond.Message, "nested deeper than 100") {
		t.Errorf("message %q does not name the object and the limit", cond.Message)
	}
	if _, ok := remote.Files(t, "main")[ns+"/deeps.test.example.com/too-deep.yaml"]; ok {
		t.Error("the object nested too deep was written")
	}
	if st["lastCommit"] != remote.Head(t, "main") {
		t.Errorf("status.lastCommit = %v, want %s", st["lastCommit"], remote.Head(t, "main"))
	}
	if code, _ := httpGet("http://" + p.health + "/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if logs := p.logs.String(); !strings.Contains(logs, "object not rendered") {
		t.Error("no log line for the object not rendered")
	}
}
