package main

import (
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

// kubeconfigAs is a kubeconfig for namespace that acts as user, through impersonation.
func kubeconfigAs(t *testing.T, namespace, user string) string {
	t.Helper()
	kc := kubeconfig(t, namespace)
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = user
	}
	if err := clientcmd.WriteToFile(*cfg, kc); err != nil {
		t.Fatal(err)
	}
	return kc
}

const shopDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: undo}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`

// TestUndoAChange: with the controller running, jane changes a Deployment and deletes a
// ConfigMap. diff against the commit before shows exactly those two objects; bot's restore of
// that commit with --existing=update brings both back, and the controller commits the revert
// as bot's change.
func TestUndoAChange(t *testing.T) {
	const ns = "undo"
	c, remote := liveSetup(t, ns, "  commitWindow: 0s\n")
	apply(t, c, `
apiVersion: reverser.gitops.dev/v1alpha1
kind: WatchRule
metadata: {name: apps, namespace: undo}
spec:
  destinationRef: {name: git}
  rules: [{apiGroups: [apps], resources: [deployments]}]
`)
	grantUsers(t, c, "undo-test")
	c.Create(t, shopDeployment+"---\n"+configMap(ns, "settings", "mode: fast"))
	_, flags := webhookFlags(t, c, "undo-test", "")
	startController(t, flags...)
	eventually(t, 30*time.Second, "backfill", func() (bool, string) {
		f := remote.Files(t, "main")
		return f[ns+"/deployments.apps/web.yaml"] != "" && f[ns+"/configmaps/settings.yaml"] != "", ""
	})
	before := remote.Head(t, "main")

	janeC := as(t, jane)
	janeC.Update(t, strings.Replace(shopDeployment, "nginx:1.27", "nginx:1.28", 1))
	janeC.Delete(t, configMap(ns, "settings", "mode: fast"))
	commitOf(t, remote, "[DELETE] "+ns+"/configmaps/settings")
	commitOf(t, remote, "[UPDATE] "+ns+"/deployments.apps/web")

	kc := kubeconfig(t, ns)
	clone := t.TempDir() + "/clone"
	gitOut(t, t.TempDir(), "clone", "-q", remote.URL, clone)
	stdout, stderr, code := diffMain(t, "--kubeconfig", kc, "--repo", clone, "--ref", before, "--resources", "deployments.apps,configmaps")
	if code != 1 || !strings.Contains(stderr, "diff: 1 changed, 1 only in Git, 0 only in the cluster") ||
		!strings.Contains(stdout, "-      - image: nginx:1.27\n+      - image: nginx:1.28\n") {
		t.Fatalf("diff --ref %s: exit %d\n%s\n%s", before, code, stdout, stderr)
	}

	out, stderr2, err := cli(t, "restore", "--kubeconfig", kubeconfigAs(t, ns, bot), "--repo", remote.URL, "--ref", before,
		"--existing=update", "--resources", "deployments.apps,configmaps")
	if err != nil || !strings.Contains(out, ns+"/configmaps/settings.yaml created") || !strings.Contains(out, ns+"/deployments.apps/web.yaml updated") {
		t.Fatalf("restore: %v\n%s\n%s", err, out, stderr2)
	}
	for _, subject := range []string{"[CREATE] " + ns + "/configmaps/settings", "[UPDATE] " + ns + "/deployments.apps/web"} {
		var got gitserver.Commit
		eventually(t, 30*time.Second, subject+" by bot", func() (bool, string) {
			for _, cm := range remote.Log(t, "main") {
				if cm.Subject == subject && cm.AuthorName == bot {
					got = cm
					return true, ""
				}
			}
			return false, ""
		})
		if !strings.Contains(got.Body, "Kubernetes-User: "+bot) {
			t.Errorf("%s: body %q", subject, got.Body)
		}
	}
	if got := remote.Files(t, "main")[ns+"/deployments.apps/web.yaml"]; !strings.Contains(got, "nginx:1.27") {
		t.Errorf("the Deployment in Git after the undo:\n%s", got)
	}
}
