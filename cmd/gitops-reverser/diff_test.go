package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// diffMain runs `gitops-reverser diff` as a process and returns its output and exit status.
func diffMain(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"diff"}, args...)...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestDiff: diff says nothing differs right after a snapshot (exit 0), then shows a changed,
// a deleted and a new object as unified diffs and a changed Secret by its keys only (exit 1),
// compares with an older revision (--ref), and fails with exit 2 on bad input.
func TestDiff(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "diffing"
	c.Namespace(t, ns)
	c.Create(t, configMap(ns, "app", "k: v1")+"---\n"+configMap(ns, "gone", "k: x")+"---\n"+secretYAML(ns, "db", map[string][]byte{"password": []byte("s3cret-one"), "user": []byte("app")}))
	repo := filepath.Join(t.TempDir(), "repo")
	kc := kubeconfig(t, ns)
	if _, stderr, err := cli(t, "snapshot", "--kubeconfig", kc, "--repo", repo, "--resources", "configmaps,secrets"); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	first := strings.TrimSpace(gitOut(t, repo, "rev-parse", "HEAD"))

	// The Secret in Git as a destination with encryption writes it.
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "keys.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	enc, err := secrets.NewEncrypter([]string{id.Recipient().String()}, id)
	if err != nil {
		t.Fatal(err)
	}
	live, err := c.Dynamic.Resource(kubetest.GVR("", "v1", "secrets")).Namespace(ns).Get(context.Background(), "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Rendered as snapshot renders a Secret (Clean, with the test API server's defaulting).
	plain, err := snapshot.PlainWith(live, snapshot.Clean, defaulting.Compiled(nil))
	if err != nil {
		t.Fatal(err)
	}
	sops, err := enc.Encrypt(plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, ns, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ns, "secrets", "db.yaml"), sops, 0o644); err != nil {
		t.Fatal(err)
	}
	gitOut(t, repo, "add", "-A")
	gitOut(t, repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "secret")

	stdout, stderr, code := diffMain(t, "--kubeconfig", kc, "--repo", repo, "--resources", "configmaps,secrets", "--age-identity-file", idFile)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "diff: 0 changed, 0 only in Git, 0 only in the cluster, 3 unchanged") {
		t.Fatalf("right after the snapshot: exit %d\n%s\n%s", code, stdout, stderr)
	}

	c.Update(t, configMap(ns, "app", "k: v2"))
	c.Delete(t, configMap(ns, "gone", "k: x"))
	c.Create(t, configMap(ns, "new", "k: fresh"))
	c.Update(t, secretYAML(ns, "db", map[string][]byte{"password": []byte("s3cret-two"), "user": []byte("app")}))
	stdout, stderr, code = diffMain(t, "--kubeconfig", kc, "--repo", repo, "--resources", "configmaps,secrets", "--age-identity-file", idFile)
	if code != 1 || !strings.Contains(stderr, "diff: 2 changed, 1 only in Git, 1 only in the cluster, 0 unchanged") {
		t.Fatalf("after the changes: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"--- git/" + ns + "/configmaps/app.yaml\n+++ cluster/" + ns + "/configmaps/app.yaml\n", "-  k: v1\n+  k: v2\n",
		"--- git/" + ns + "/configmaps/gone.yaml\n+++ /dev/null\n",
		"--- /dev/null\n+++ cluster/" + ns + "/configmaps/new.yaml\n",
		"secret " + ns + "/secrets/db.yaml: keys differ: [password]\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("diff output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, "s3cret") || strings.Contains(stdout+stderr, "czNjcmV0") {
		t.Errorf("a Secret's value was printed:\n%s\n%s", stdout, stderr)
	}

	// With an identity that opens none of them, Secrets are not compared, the rest is.
	other := filepath.Join(t.TempDir(), "other.txt")
	if err := os.WriteFile(other, []byte(ageIdentity(t).String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code = diffMain(t, "--kubeconfig", kc, "--repo", repo, "--resources", "configmaps,secrets", "--age-identity-file", other)
	if code != 1 || !strings.Contains(stdout, "secret "+ns+"/secrets/db.yaml: not compared") || !strings.Contains(stderr, "1 Secrets not compared") {
		t.Errorf("an identity that opens nothing: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Without an identity Secrets are not compared, and say so.
	_, stderr, _ = diffMain(t, "--kubeconfig", kc, "--repo", repo, "--resources", "secrets")
	if !strings.Contains(stderr, "Secrets not compared") {
		t.Errorf("without an identity: %s", stderr)
	}
	// An older revision: the snapshot's commit, before the Secret was added.
	stdout, _, code = diffMain(t, "--kubeconfig", kc, "--repo", repo, "--ref", first, "--resources", "configmaps")
	if code != 1 || !strings.Contains(stdout, "-  k: v1\n+  k: v2\n") {
		t.Errorf("--ref %s: exit %d\n%s", first, code, stdout)
	}
	for _, bad := range [][]string{
		{"--repo", filepath.Join(t.TempDir(), "missing")},
		{"--repo", repo, "--ref", "no-such-revision"},
		{"--repo", repo, "--resources", "nosuchthings"},
	} {
		if _, stderr, code := diffMain(t, append([]string{"--kubeconfig", kc}, bad...)...); code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("diff %v: exit %d, want 2 with a one-line reason:\n%s", bad, code, stderr)
		}
	}
}
