package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

const restoreCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.restore.example.com, labels: {restore-test: "yes"}}
spec:
  group: restore.example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
`

func labelled(ns, name, data string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + ", namespace: " + ns + ", labels: {restore-test: \"yes\"}}\ndata: {" + data + "}\n"
}

// TestRestore: restore brings back a CRD (waiting until it is Established) before its custom
// resource and the ConfigMaps, leaves existing objects alone unless asked, prunes, changes
// nothing on a server dry run, and fails only the files that cannot be restored: one that
// does not parse, one whose path and content disagree, one of a kind the cluster does not
// serve.
func TestRestore(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "restoring"
	c.Namespace(t, ns)
	widgets := kubetest.GVR("restore.example.com", "v1", "widgets")
	c.Create(t, restoreCRD)
	t.Cleanup(func() { c.Delete(t, restoreCRD) })
	createEventually(t, c, "apiVersion: restore.example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: "+ns+", labels: {restore-test: \"yes\"}}\nspec: {size: 3}\n")
	c.Create(t, labelled(ns, "app", "k: v1")+"---\n"+labelled(ns, "keep", "k: v1"))
	repo := filepath.Join(t.TempDir(), "repo")
	kc := kubeconfig(t, ns)
	if _, stderr, err := cli(t, "snapshot", "--kubeconfig", kc, "--repo", repo, "-l", "restore-test=yes",
		"--resources", "configmaps,widgets.restore.example.com,customresourcedefinitions.apiextensions.k8s.io"); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	// Secrets as a destination with encryption writes them: one the controller's identity
	// (in a Secret of the cluster) opens, one nobody here can.
	own, other := ageIdentity(t), ageIdentity(t)
	c.Create(t, secretYAML(ns, "age-id", map[string][]byte{secrets.IdentityKey: []byte(own.String() + "\n")}))
	for name, id := range map[string]*age.X25519Identity{"db": own, "undecryptable": other} {
		enc, err := secrets.NewEncrypter([]string{id.Recipient().String()}, id)
		if err != nil {
			t.Fatal(err)
		}
		u := kubetest.Decode(t, secretYAML(ns, name, map[string][]byte{"password": []byte("s3cret")}))[0]
		u.SetLabels(map[string]string{"restore-test": "yes"})
		plain, err := snapshot.Plain(u)
		if err != nil {
			t.Fatal(err)
		}
		file, err := enc.Encrypt(plain)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(repo, ns, "secrets"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, ns, "secrets", name+".yaml"), file, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range map[string]string{
		ns + "/configmaps/broken.yaml":             "::: not yaml\n",
		ns + "/configmaps/liar.yaml":               labelled(ns, "somebody-else", "k: v"),
		ns + "/gadgets.nowhere.example.com/g.yaml": "apiVersion: nowhere.example.com/v1\nkind: Gadget\nmetadata: {name: g, namespace: " + ns + ", labels: {restore-test: \"yes\"}}\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitOut(t, repo, "add", "-A")
	gitOut(t, repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "bad files")

	// Lose the CRD (and with it the Widget) and a ConfigMap; change one, add one.
	c.Delete(t, restoreCRD)
	eventually(t, 30*time.Second, "CRD gone", func() (bool, string) {
		_, err := c.Dynamic.Resource(kubetest.GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")).Get(context.Background(), "widgets.restore.example.com", metav1.GetOptions{})
		return apierrors.IsNotFound(err), ""
	})
	c.Delete(t, labelled(ns, "app", "k: v1"))
	c.Update(t, labelled(ns, "keep", "k: changed"))
	c.Create(t, labelled(ns, "extra", "k: x"))

	restore := func(args ...string) (string, error) {
		stdout, stderr, err := cli(t, append([]string{"restore", "--kubeconfig", kc, "--repo", repo, "-A", "-l", "restore-test=yes", "--age-identity-secret", ns + "/age-id"}, args...)...)
		return stdout + stderr, err
	}
	out, err := restore()
	if err == nil {
		t.Errorf("restore with bad files succeeded:\n%s", out)
	}
	for _, want := range []string{
		"_cluster/customresourcedefinitions.apiextensions.k8s.io/widgets.restore.example.com.yaml created",
		ns + "/widgets.restore.example.com/w1.yaml created",
		ns + "/configmaps/app.yaml created",
		ns + "/configmaps/keep.yaml skipped (exists and differs",
		ns + "/configmaps/broken.yaml failed: the file is not a Kubernetes object",
		ns + "/configmaps/liar.yaml failed: the file holds ConfigMap " + ns + "/somebody-else",
		ns + "/gadgets.nowhere.example.com/g.yaml failed: the cluster does not serve Gadget.nowhere.example.com",
		ns + "/secrets/db.yaml created",
		ns + "/secrets/undecryptable.yaml failed: cannot decrypt",
		"restore: 4 created, 0 updated, 0 unchanged, 1 skipped, 0 deleted, 4 failed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if _, err := c.Dynamic.Resource(widgets).Namespace(ns).Get(context.Background(), "w1", metav1.GetOptions{}); err != nil {
		t.Errorf("the Widget was not restored: %v", err)
	}
	if db, err := c.Kube.CoreV1().Secrets(ns).Get(context.Background(), "db", metav1.GetOptions{}); err != nil || string(db.Data["password"]) != "s3cret" {
		t.Errorf("the Secret was not restored with its value: %v", err)
	}
	if strings.Contains(out, "s3cret") || strings.Contains(out, "czNjcmV0") {
		t.Errorf("a Secret's value was printed:\n%s", out)
	}

	good := []string{ns + "/configmaps/app.yaml", ns + "/configmaps/keep.yaml"}
	value := func(name string) string {
		u, err := c.Dynamic.Resource(kubetest.GVR("", "v1", "configmaps")).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return u.Object["data"].(map[string]any)["k"].(string)
	}
	out, err = restore(append([]string{"--existing=update", "--prune", "--dry-run=server", "--resources", "configmaps"}, good...)...)
	if err != nil || !strings.Contains(out, ns+"/configmaps/keep.yaml updated") || !strings.Contains(out, ns+"/configmaps/extra.yaml deleted") || !strings.Contains(out, "server dry run") {
		t.Errorf("dry run: %v\n%s", err, out)
	}
	if value("keep") != "changed" || value("extra") != "x" {
		t.Errorf("the dry run changed the cluster: keep=%s extra=%s", value("keep"), value("extra"))
	}
	out, err = restore(append([]string{"--existing=update", "--prune", "--resources", "configmaps"}, good...)...)
	if err != nil || value("keep") != "v1" || !strings.HasPrefix(value("extra"), "<") {
		t.Errorf("update and prune: %v, keep=%s extra=%s\n%s", err, value("keep"), value("extra"), out)
	}
	out, err = restore(append([]string{"--existing=update", "--resources", "configmaps"}, good...)...)
	if err != nil || !strings.Contains(out, "restore: 0 created, 0 updated, 2 unchanged, 0 skipped, 0 deleted, 0 failed") {
		t.Errorf("a second restore: %v\n%s", err, out)
	}
}

func ageIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return id
}
