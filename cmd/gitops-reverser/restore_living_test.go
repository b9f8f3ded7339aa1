package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

// roundTripExtras are, beside roundTripObjects and shopObjects (ConfigMaps, a Service, a Role,
// a Deployment, a custom resource), a Secret and a RoleBinding.
const roundTripExtras = `
apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
stringData: {password: s3cret-round-trip}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: readers, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: User, name: jane@acme.com, apiGroup: rbac.authorization.k8s.io}]
`

// TestLivingRestoreRoundTrip: snapshot -A of a living cluster with workloads, CRDs and their
// objects, RBAC and encrypted Secrets, restored into a fresh living cluster: snapshotting that
// one changes no file, its Pods run, diff finds nothing, and a second restore changes nothing.
func TestLivingRestoreRoundTrip(t *testing.T) {
	a, kcA := startLiving(t)
	a.Namespace(t, "shop")
	a.Namespace(t, "store")
	a.Namespace(t, "gitops-reverser")
	a.InstallCRDs(t, orderCRD)
	a.Create(t, roundTripObjects+"---\n"+roundTripExtras+"---\n"+shopObjects("store"))
	nodesSettled(t, a)
	user := ageIdentity(t)
	idFile := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(idFile, []byte(user.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	remote := gitserver.NewBare(t, "main")
	a.Create(t, destinationYAML("gitops-reverser", "backup", remote.URL, "  encryption: {ageRecipients: ["+user.Recipient().String()+"]}\n")+`
---
apiVersion: reverser.gitops.dev/v1alpha1
kind: ClusterWatchRule
metadata: {name: everything}
spec:
  destinationRef: {name: backup, namespace: gitops-reverser}
  rules: [{apiGroups: ["*"], resources: ["*"]}]
`)
	snapshotOf := func(kc string) string {
		t.Helper()
		if _, stderr, err := cli(t, "snapshot", "--kubeconfig", kc, "--age-identity-secret", "gitops-reverser/gitops-reverser-age-identity"); err != nil {
			t.Fatalf("snapshot: %v\n%s", err, stderr)
		}
		return remote.Head(t, "main")
	}
	headA := snapshotOf(kcA)
	files := remote.Files(t, "main")
	for _, p := range []string{"store/deployments.apps/web.yaml", "shop/secrets/db.yaml", "store/icecreamorders.shop.example.com/alices-order.yaml",
		"_cluster/customresourcedefinitions.apiextensions.k8s.io/icecreamorders.shop.example.com.yaml", "gitops-reverser/secrets/gitops-reverser-age-identity.yaml",
		"shop/rolebindings.rbac.authorization.k8s.io/readers.yaml", "gitops-reverser/gitdestinations.reverser.gitops.dev/backup.yaml"} {
		if _, ok := files[p]; !ok {
			t.Errorf("%s not in the backup", p)
		}
	}
	if strings.Contains(files["shop/secrets/db.yaml"], "s3cret-round-trip") {
		t.Fatal("a Secret in plaintext")
	}

	b, kcB := startLiving(t)
	nodesSettled(t, b)
	restore := func() string {
		t.Helper()
		stdout, stderr, err := cli(t, "restore", "--kubeconfig", kcB, "--repo", remote.URL, "-A", "--age-identity-file", idFile)
		if err != nil {
			t.Fatalf("restore: %v\n%s%s", err, stdout, stderr)
		}
		return stdout + stderr
	}
	out := restore()
	if !strings.Contains(out, "store/deployments.apps/web.yaml created") || !strings.Contains(out, "store/icecreamorders.shop.example.com/alices-order.yaml created") {
		t.Errorf("first restore:\n%s", out)
	}
	eventually(t, 60*time.Second, "the restored Deployment's Pods running", func() (bool, string) {
		pods, err := b.Kube.CoreV1().Pods("store").List(t.Context(), metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil {
			return false, err.Error()
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == "Running" {
				running++
			}
		}
		return running == 2, ""
	})
	if headB := snapshotOf(kcB); headB != headA {
		t.Errorf("snapshot of the restored cluster changed files: %+v", commitsSince(t, remote, headA))
	}
	if stdout, stderr, code := diffMain(t, "--kubeconfig", kcB, "--repo", remote.URL, "-A", "--age-identity-file", idFile); code != 0 {
		t.Errorf("diff of the restored cluster: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if out := restore(); !strings.Contains(out, " 0 created, 0 updated,") || !strings.Contains(out, " 0 skipped, 0 deleted, 0 failed") {
		t.Errorf("second restore:\n%s", out)
	}
}
