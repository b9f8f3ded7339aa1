package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// TestLivingOutputClean: on a living cluster a server-side applied Deployment is written as
// its manifest, the ReplicaSet and Pods the controllers make from it are written as those
// controllers set them, and the scheduler placing the Pods and the kubelet running them make
// no commit.
func TestLivingOutputClean(t *testing.T) {
	const ns = "living-output"
	rule := `
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: workloads, namespace: ` + ns + `}
spec:
  destinationRef: {name: git}
  rules:
  - apiGroups: ["", apps]
    resources: [deployments, replicasets, pods]
`
	_, c, remote := livingSetup(t, ns, "  commitWindow: 0s\n", rule)
	c.ServerSideApply(t, kubetest.Decode(t, web(ns, "applied"))[0], "kubectl")
	byPrefix := func(files map[string]string, prefix string) []string {
		var out []string
		for p := range files {
			if strings.HasPrefix(p, ns+"/"+prefix+"/") {
				out = append(out, p)
			}
		}
		return out
	}
	eventually(t, 60*time.Second, "a ReplicaSet and two Pods", func() (bool, string) {
		files := remote.Files(t, "main")
		return len(byPrefix(files, "replicasets.apps")) == 1 && len(byPrefix(files, "pods")) == 2, ""
	})
	head := settled(t, remote, 5*time.Second)
	files := remote.Files(t, "main")
	deploy := ns + "/deployments.apps/applied.yaml"
	if diff := cmp.Diff(golden(t, "clean", ns)[deploy], files[deploy]); diff != "" {
		t.Errorf("Deployment file is not its manifest (-want +got):\n%s", diff)
	}
	for _, p := range append(byPrefix(files, "replicasets.apps"), byPrefix(files, "pods")...) {
		f := files[p]
		if !strings.Contains(f, "image: nginx:1.27") || !strings.Contains(f, "emptyDir: {}") {
			t.Errorf("%s lacks what its controller set:\n%s", p, f)
		}
		if strings.Contains(f, "nodeName:") || strings.Contains(f, "tolerations:") {
			t.Errorf("%s holds what no manager owns (the scheduler's nodeName, admission's tolerations):\n%s", p, f)
		}
	}
	// The scheduler binds the Pods and the kubelet (kwok) runs them: nothing comes of it.
	eventually(t, 60*time.Second, "Pods scheduled and running", func() (bool, string) {
		pods, err := c.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil || len(pods.Items) != 2 {
			return false, fmt.Sprint(err)
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
				return false, p.Name + " " + string(p.Status.Phase)
			}
		}
		return true, ""
	})
	settled(t, remote, 3*time.Second)
	if got := commitsSince(t, remote, head); len(got) != 0 {
		t.Errorf("commits after the Pods were created: %v", subjects(got))
	}
}
