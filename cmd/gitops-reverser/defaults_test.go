package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// gadgetsCRD is a custom resource whose schema defaults spec.size to size, and a nested field.
func gadgetsCRD(size string) string {
	return `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.defaults.example.com}
spec:
  group: defaults.example.com
  names: {kind: Gadget, plural: gadgets, singular: gadget, listKind: GadgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              colour: {type: string}
              size: {type: string, default: "` + size + `"}
              limits:
                type: object
                default: {}
                properties:
                  cpu: {type: string, default: "1"}
`
}

// TestRunCRDDefaults: a custom resource made by an Update (which owns the defaults its CRD's
// schema filled in) is written without them; a write that only spells out a default makes no
// commit; and when the CRD's default changes, the file follows: the value the object holds is
// no longer the default, so it is written.
func TestRunCRDDefaults(t *testing.T) {
	const ns = "crd-defaults"
	c := kubetest.NewClient(t, env.Config)
	c.Namespace(t, ns)
	apply(t, c, gadgetsCRD("M"))
	gadget := func(extra string) string {
		return "apiVersion: defaults.example.com/v1\nkind: Gadget\nmetadata: {name: g, namespace: " + ns + "}\nspec:\n  colour: red\n" + extra
	}
	eventually(t, 30*time.Second, "the Gadget created", func() (bool, string) {
		obj := kubetest.Decode(t, gadget(""))[0]
		gadgets := c.Dynamic.Resource(kubetest.GVR("defaults.example.com", "v1", "gadgets")).Namespace(ns)
		_, err := gadgets.Create(context.Background(), obj, metav1.CreateOptions{FieldManager: "kubectl-create"})
		return err == nil, fmt.Sprint(err)
	})
	remote := gitserver.NewBare(t, "main")
	apply(t, c, destinationYAML(ns, "git", remote.URL, "  commitWindow: 0s\n")+`---
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: gadgets, namespace: `+ns+`}
spec:
  destinationRef: {name: git}
  rules:
  - apiGroups: [defaults.example.com]
    resources: [gadgets]
`)
	startController(t)
	path := ns + "/gadgets.defaults.example.com/g.yaml"
	want := "apiVersion: defaults.example.com/v1\nkind: Gadget\nmetadata:\n  name: g\n  namespace: " + ns + "\nspec:\n  colour: red\n"
	waitFile(t, remote, path, want)
	before := remote.Count(t, "main")

	// An Update that writes the defaults out changes nothing in Git; the next change shows
	// the writer has seen it.
	c.Update(t, gadget("  size: M\n  limits: {cpu: \"1\"}\n"))
	c.Update(t, strings.Replace(gadget(""), "colour: red", "colour: blue", 1))
	waitFile(t, remote, path, strings.Replace(want, "red", "blue", 1))
	if n := remote.Count(t, "main"); n != before+1 {
		t.Errorf("spelling out the defaults, then a change: %d commits, want 1", n-before)
	}

	// The CRD's default moves to L: the Gadget still holds M, which is now the author's.
	c.Update(t, gadgetsCRD("L"))
	waitFile(t, remote, path, strings.Replace(want, "red", "blue", 1)+"  size: M\n")
}
