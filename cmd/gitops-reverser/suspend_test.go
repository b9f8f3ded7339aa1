package main

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// TestRunSuspendResumeAndRequest: a suspended destination pushes nothing and says Suspended
// (also in kubectl's SUSPENDED column); a user's change made meanwhile is committed by that
// user once resumed; the requestedAt annotation starts a full resync at once and is echoed.
func TestRunSuspendResumeAndRequest(t *testing.T) {
	const ns = "suspend"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n  suspend: true\n")
	grantUsers(t, c, "suspend-test")
	_, flags := webhookFlags(t, c, "suspend-test", "")
	// Periodic resyncs off: only the resume and the request may resync.
	startController(t, append(flags, "--resync-interval", "0")...)
	name := types.NamespacedName{Namespace: ns, Name: "git"}
	waitReady(t, c, v1alpha1.GitDestinations, name, metav1.ConditionFalse, v1alpha1.ReasonSuspended)
	as(t, jane).Create(t, configMap(ns, "janes", "v: \"1\""))
	time.Sleep(2 * time.Second) // a push would have happened by now
	if remote.Head(t, "main") != "" {
		t.Fatalf("a suspended destination pushed: %+v", remote.Log(t, "main"))
	}
	if cols := printerColumns(t, c); !strings.Contains(cols, "Suspended=.spec.suspend") {
		t.Errorf("printer columns %s lack SUSPENDED", cols)
	}

	patchDestination(t, c, name, `{"spec":{"suspend":false}}`)
	waitReady(t, c, v1alpha1.GitDestinations, name, metav1.ConditionTrue, v1alpha1.ReasonSynced)
	eventually(t, 30*time.Second, "jane's change pushed", func() (bool, string) {
		for _, cm := range remote.Log(t, "main") {
			if cm.Subject == "[CREATE] "+ns+"/configmaps/janes" {
				return cm.AuthorName == jane, cm.AuthorName
			}
		}
		return false, "no commit"
	})

	// A file changed behind the controller's back comes back only through a resync.
	remote.PushFile(t, "main", ns+"/configmaps/janes.yaml", "edited by hand\n", "hand edit")
	commits := remote.Count(t, "main")
	patchDestination(t, c, name, `{"metadata":{"annotations":{"`+v1alpha1.ReconcileRequestAnnotation+`":"now-1"}}}`)
	eventually(t, 30*time.Second, "the request echoed", func() (bool, string) {
		u, err := c.Dynamic.Resource(v1alpha1.GitDestinations).Namespace(ns).Get(context.Background(), "git", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		got, _, _ := unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
		return got == "now-1", got
	})
	if got := remote.Files(t, "main")[ns+"/configmaps/janes.yaml"]; strings.Contains(got, "edited by hand") || remote.Count(t, "main") != commits+1 {
		t.Errorf("after the request: %d commits (want %d), file %q", remote.Count(t, "main"), commits+1, got)
	}
}

func patchDestination(t *testing.T, c *kubetest.Client, name types.NamespacedName, patch string) {
	t.Helper()
	_, err := c.Dynamic.Resource(v1alpha1.GitDestinations).Namespace(name.Namespace).Patch(context.Background(), name.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// printerColumns lists the GitDestination CRD's columns as name=path.
func printerColumns(t *testing.T, c *kubetest.Client) string {
	t.Helper()
	crd, err := c.Dynamic.Resource(kubetest.GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")).Get(context.Background(), "gitdestinations.reverser.gitops.dev", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var out []string
	for _, v := range versions {
		cols, _, _ := unstructured.NestedSlice(v.(map[string]any), "additionalPrinterColumns")
		for _, col := range cols {
			m := col.(map[string]any)
			out = append(out, m["name"].(string)+"="+m["jsonPath"].(string))
		}
	}
	return strings.Join(out, ",")
}
