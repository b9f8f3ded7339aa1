package main

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

func startLiving(t *testing.T) (*kubetest.Client, string) {
	t.Helper()
	l, err := kubetest.StartLiving(1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Stop() })
	return kubetest.NewClient(t, l.Config), kubeconfigOf(t, l.Env, "default")
}

// nodesSettled waits until the node lifecycle controller has added the beta OS and
// architecture labels to every Node, which it does some moments after the Node appears: the
// round trip is of a settled cluster.
func nodesSettled(t *testing.T, c *kubetest.Client) {
	t.Helper()
	eventually(t, 60*time.Second, "nodes with their beta labels", func() (bool, string) {
		nodes, err := c.Kube.CoreV1().Nodes().List(t.Context(), metav1.ListOptions{})
		if err != nil || len(nodes.Items) == 0 {
			return false, fmt.Sprint(err)
		}
		for _, n := range nodes.Items {
			if n.Labels["beta.kubernetes.io/os"] == "" || n.Labels["beta.kubernetes.io/arch"] == "" {
				return false, n.Name + ": " + fmt.Sprint(n.Labels)
			}
		}
		return true, ""
	})
}

const roundTripObjects = `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data: {color: blue}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: shop}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
`

// snapshot -A of a living cluster leaves out what its control plane maintains itself, so
// that applied to a fresh cluster and snapshotted again it gives the same files; the opt-in
// writes those objects for the resources it names.
func TestSnapshotSystemObjectsRoundTrip(t *testing.T) {
	a, kcA := startLiving(t)
	a.Namespace(t, "shop")
	a.Create(t, roundTripObjects)
	nodesSettled(t, a)
	first := gitserver.NewBare(t, "main")
	if _, stderr, err := cli(t, "snapshot", "--kubeconfig", kcA, "--repo", first.URL, "-A"); err != nil {
		t.Fatalf("snapshot of the first cluster: %v\n%s", err, stderr)
	}
	files := first.Files(t, "main")
	for p := range files {
		for _, system := range []string{"/kube-root-ca.crt.yaml", "default/services/kubernetes.yaml", "extension-apiserver-authentication", "ipaddresses.networking.k8s.io/", "/serviceaccounts/default.yaml", "priorityclasses.scheduling.k8s.io/system-", "clusterroles.rbac.authorization.k8s.io/admin.yaml", "flowschemas.flowcontrol.apiserver.k8s.io/exempt.yaml", "servicecidrs.networking.k8s.io/kubernetes.yaml", "kube-apiserver-legacy-service-account-token-tracking", "clustertrustbundles.certificates.k8s.io/kubernetes.io:kube-apiserver-serving:"} {
			if strings.Contains(p, system) {
				t.Errorf("system object written: %s", p)
			}
		}
	}
	for _, p := range []string{"shop/configmaps/settings.yaml", "shop/services/web.yaml", "shop/roles.rbac.authorization.k8s.io/reader.yaml", "_cluster/namespaces/shop.yaml"} {
		if _, ok := files[p]; !ok {
			t.Errorf("%s missing from the snapshot", p)
		}
	}

	// The opt-in, for a named resource only.
	optIn := gitserver.NewBare(t, "main")
	if _, stderr, err := cli(t, "snapshot", "--kubeconfig", kcA, "--repo", optIn.URL, "-A", "--resources", "configmaps,ipaddresses.networking.k8s.io", "--include-system-objects"); err != nil {
		t.Fatalf("snapshot with --include-system-objects: %v\n%s", err, stderr)
	}
	got := optIn.Files(t, "main")
	if _, ok := got["shop/configmaps/kube-root-ca.crt.yaml"]; !ok {
		t.Errorf("--include-system-objects: no kube-root-ca.crt: %v", keys(got))
	}
	if !strings.Contains(strings.Join(keys(got), " "), "_cluster/ipaddresses.networking.k8s.io/") {
		t.Errorf("--include-system-objects: no IPAddress: %v", keys(got))
	}

	// Restore into a fresh cluster: namespaces first, then everything else.
	b, kcB := startLiving(t)
	nodesSettled(t, b)
	paths := keys(files)
	sort.SliceStable(paths, func(i, j int) bool {
		return strings.HasPrefix(paths[i], "_cluster/namespaces/") && !strings.HasPrefix(paths[j], "_cluster/namespaces/")
	})
	for _, p := range paths {
		b.ServerSideApply(t, kubetest.Decode(t, files[p])[0], "restore")
	}
	second := gitserver.NewBare(t, "main")
	if _, stderr, err := cli(t, "snapshot", "--kubeconfig", kcB, "--repo", second.URL, "-A"); err != nil {
		t.Fatalf("snapshot of the restored cluster: %v\n%s", err, stderr)
	}
	if diff := cmp.Diff(files, second.Files(t, "main")); diff != "" {
		t.Errorf("the restored cluster's snapshot differs (-first +restored):\n%s", diff)
	}
}
