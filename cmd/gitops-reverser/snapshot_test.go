package main

import (
	"encoding/base64"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

const orderCRD = "testdata/crds/icecreamorders.shop.example.com.yaml"

// secretValue must never reach Git, in any form.
const secretValue = "s3cr3t-value-42"

func shopObjects(ns string) string {
	return `
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: ` + ns + `
  labels:
    team: shop
  annotations:
    owner: alice
    kubectl.kubernetes.io/last-applied-configuration: '{"apiVersion":"v1"}'
data:
  greeting: hello
  config.yaml: |
    port: 8080
    debug: false
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: ` + ns + `
data:
  mode: "on"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ` + ns + `
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.27
        volumeMounts:
        - {name: cache, mountPath: /cache}
      volumes:
      - name: cache
        emptyDir: {}
---
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: ` + ns + `
stringData:
  password: ` + secretValue + `
---
apiVersion: shop.example.com/v1
kind: IceCreamOrder
metadata:
  name: alices-order
  namespace: ` + ns + `
spec:
  flavour: vanilla
  scoops: 2
  toppings: [sprinkles]
`
}

func wantApp(ns string) string {
	return `apiVersion: v1
kind: ConfigMap
metadata:
  annotations:
    owner: alice
  labels:
    team: shop
  name: app
  namespace: ` + ns + `
data:
  config.yaml: |
    port: 8080
    debug: false
  greeting: hello
`
}

func wantOrder(ns string) string {
	return `apiVersion: shop.example.com/v1
kind: IceCreamOrder
metadata:
  name: alices-order
  namespace: ` + ns + `
spec:
  flavour: vanilla
  scoops: 2
  toppings:
  - sprinkles
`
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// assertNoSecret fails when the secret value, plain or base64, is anywhere in the remote's history.
func assertNoSecret(t *testing.T, remote *gitserver.Remote) {
	t.Helper()
	history := gitOut(t, remote.Dir, "log", "--all", "-p", "--format=%B")
	for _, v := range []string{secretValue, base64.StdEncoding.EncodeToString([]byte(secretValue))} {
		if strings.Contains(history, v) {
			t.Fatalf("secret value %q found in the repository history", v)
		}
	}
}

func TestSnapshotStandalone(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	c.InstallCRDs(t, orderCRD)
	const ns = "shop-standalone"
	c.Namespace(t, ns)
	c.Create(t, shopObjects(ns))
	kc := kubeconfig(t, "default")

	transports := []struct {
		name string
		url  func(r *gitserver.Remote) string
	}{
		{name: "file", url: func(r *gitserver.Remote) string { return r.URL }},
		{name: "smart HTTP with basic auth", url: func(r *gitserver.Remote) string {
			t.Setenv("GIT_USERNAME", "alice")
			t.Setenv("GIT_PASSWORD", "right-password")
			return r.ServeHTTP(t, "alice", "right-password")
		}},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			remote := gitserver.NewBare(t, "main")
			url := tr.url(remote)
			cache := t.TempDir()
			args := []string{"snapshot", "--kubeconfig", kc, "--repo", url, "-n", ns, "--cache-dir", cache,
				"--resources", "configmaps,deployments.apps,secrets,icecreamorders.shop.example.com"}

			_, stderr, err := cli(t, args...)
			if err != nil {
				t.Fatalf("first snapshot: %v\n%s", err, stderr)
			}
			files := remote.Files(t, "main")
			wantPaths := []string{
				ns + "/configmaps/app.yaml",
				ns + "/configmaps/settings.yaml",
				ns + "/deployments.apps/web.yaml",
				ns + "/icecreamorders.shop.example.com/alices-order.yaml",
			}
			if diff := cmp.Diff(wantPaths, keys(files)); diff != "" {
				t.Fatalf("paths (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantApp(ns), files[ns+"/configmaps/app.yaml"]); diff != "" {
				t.Errorf("app.yaml (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantOrder(ns), files[ns+"/icecreamorders.shop.example.com/alices-order.yaml"]); diff != "" {
				t.Errorf("alices-order.yaml (-want +got):\n%s", diff)
			}
			if got := files[ns+"/configmaps/settings.yaml"]; !strings.Contains(got, `mode: "on"`) {
				t.Errorf("settings.yaml lost the string \"on\":\n%s", got)
			}
			web := files[ns+"/deployments.apps/web.yaml"]
			for _, want := range []string{"emptyDir: {}", "replicas: 2", "image: nginx:1.27"} {
				if !strings.Contains(web, want) {
					t.Errorf("web.yaml lacks %q:\n%s", want, web)
				}
			}
			for _, gone := range []string{"status:", "uid:", "resourceVersion:", "managedFields:", "generation:", "creationTimestamp: \""} {
				if strings.Contains(web, gone) {
					t.Errorf("web.yaml keeps %q:\n%s", gone, web)
				}
			}
			assertNoSecret(t, remote)
			log := remote.Log(t, "main")
			if len(log) != 1 {
				t.Fatalf("commits = %d, want 1", len(log))
			}
			if got, want := log[0].Subject, "reconcile: 4 added, 0 updated, 0 deleted"; got != want {
				t.Errorf("subject = %q, want %q", got, want)
			}
			for _, got := range []string{log[0].AuthorName, log[0].CommitterName} {
				if got != "gitops-reverser" {
					t.Errorf("identity = %q, want gitops-reverser", got)
				}
			}
			if log[0].CommitterEmail != "gitops-reverser@cluster.local" {
				t.Errorf("committer email = %q", log[0].CommitterEmail)
			}
			if !strings.Contains(log[0].Body, "[CREATE] "+ns+"/configmaps/app") {
				t.Errorf("body does not list the files:\n%s", log[0].Body)
			}

			if entries, err := os.ReadDir(cache + "/standalone"); err != nil || len(entries) != 1 {
				t.Errorf("--cache-dir holds no clone: %v %v", entries, err)
			}

			// Unchanged cluster: no commit (the second run reuses the clone).
			if _, stderr, err := cli(t, args...); err != nil {
				t.Fatalf("second snapshot: %v\n%s", err, stderr)
			}
			if n := remote.Count(t, "main"); n != 1 {
				t.Fatalf("second run on an unchanged cluster made a commit: %d commits", n)
			}

			// Another writer pushes, an object goes away: the deletion lands on top of theirs.
			foreign := remote.PushFile(t, "main", "README.md", "# our cluster\n", "docs: add README")
			c.Delete(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: "+ns+"}\n")
			if _, stderr, err := cli(t, args...); err != nil {
				t.Fatalf("third snapshot: %v\n%s", err, stderr)
			}
			log = remote.Log(t, "main")
			if got, want := log[0].Subject, "reconcile: 0 added, 0 updated, 1 deleted"; got != want {
				t.Errorf("subject = %q, want %q", got, want)
			}
			if !remote.IsAncestor(t, foreign, log[0].Hash) {
				t.Errorf("foreign commit %s is not an ancestor of the head: force push?", foreign)
			}
			files = remote.Files(t, "main")
			if _, ok := files[ns+"/configmaps/settings.yaml"]; ok {
				t.Errorf("deleted object's file is still there")
			}
			if files["README.md"] != "# our cluster\n" {
				t.Errorf("foreign README.md was touched: %q", files["README.md"])
			}
			c.Create(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: "+ns+"}\ndata: {mode: \"on\"}\n")
		})
	}
}

func TestSnapshotWrongPassword(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	url := remote.ServeHTTP(t, "alice", "right-password")
	kc := kubeconfig(t, "default")
	t.Setenv("GIT_USERNAME", "alice")
	t.Setenv("GIT_PASSWORD", "wrong-password-123")

	// The real binary (this test binary re-executed as main): exit status and stderr.
	cmd := exec.Command(os.Args[0], "snapshot", "--kubeconfig", kc, "--repo", url, "--resources", "configmaps")
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	exitErr, ok := err.(*exec.ExitError)
	if !ok || exitErr.ExitCode() == 0 {
		t.Fatalf("exit = %v, want non-zero; stderr:\n%s", err, stderr.String())
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Count(msg, "\n") != 0 {
		t.Errorf("stderr is not one line:\n%s", msg)
	}
	if !strings.Contains(strings.ToLower(msg), "authentication") {
		t.Errorf("stderr does not say authentication failed: %s", msg)
	}
	if strings.Contains(msg, "wrong-password-123") || strings.Contains(stdout.String(), "wrong-password-123") {
		t.Errorf("password leaked into the output: %s", msg)
	}
	if remote.Head(t, "main") != "" {
		t.Errorf("a commit reached the remote despite the wrong password")
	}
}

func TestSnapshotLocalRepoAndDryRun(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "shop-local"
	c.Namespace(t, ns)
	c.Create(t, configMap(ns, "one", "a: \"1\"")+"---\n"+configMap(ns, "two", "a: \"2\""))
	kc := kubeconfig(t, ns) // -n defaults to the kubeconfig's namespace
	repo := t.TempDir() + "/backup"
	args := []string{"snapshot", "--kubeconfig", kc, "--repo", repo, "--resources", "configmaps", "--base-folder", "prod"}

	// Dry run on a repository that does not exist yet: prints, creates nothing.
	out, stderr, err := cli(t, append(args, "--dry-run")...)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, stderr)
	}
	want := "CREATE prod/" + ns + "/configmaps/one.yaml\nCREATE prod/" + ns + "/configmaps/two.yaml\n"
	if out != want {
		t.Errorf("dry run printed %q, want %q", out, want)
	}
	if _, err := os.Stat(repo); !os.IsNotExist(err) {
		t.Fatalf("dry run created %s", repo)
	}

	if _, stderr, err := cli(t, args...); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	got, err := os.ReadFile(repo + "/prod/" + ns + "/configmaps/one.yaml")
	if err != nil || string(got) != "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n  namespace: "+ns+"\ndata:\n  a: \"1\"\n" {
		t.Fatalf("working tree file: %q, %v", got, err)
	}
	if status := gitOut(t, repo, "status", "--porcelain"); status != "" {
		t.Errorf("working tree not clean after the snapshot:\n%s", status)
	}

	c.Delete(t, configMap(ns, "two", ""))
	out, _, err = cli(t, append(args, "--dry-run")...)
	if err != nil || out != "DELETE prod/"+ns+"/configmaps/two.yaml\n" {
		t.Fatalf("dry run after delete printed %q, %v", out, err)
	}
	if _, err := os.Stat(repo + "/prod/" + ns + "/configmaps/two.yaml"); err != nil {
		t.Fatalf("dry run removed a file: %v", err)
	}
	if _, stderr, err := cli(t, args...); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(repo + "/prod/" + ns + "/configmaps/two.yaml"); !os.IsNotExist(err) {
		t.Errorf("deleted object's file is still in the working tree: %v", err)
	}
	if log := gitOut(t, repo, "log", "--format=%s"); log != "reconcile: 0 added, 0 updated, 1 deleted\nreconcile: 2 added, 0 updated, 0 deleted\n" {
		t.Errorf("log = %q", log)
	}
}

func TestSnapshotBadInput(t *testing.T) {
	kc := kubeconfig(t, "default")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown resource", []string{"--repo", t.TempDir() + "/r", "--resources", "configmapz"}, "configmapz"},
		{"subresource", []string{"--repo", t.TempDir() + "/r", "--resources", "pods/log"}, "pods/log"},
		{"bad selector", []string{"--repo", t.TempDir() + "/r", "-l", "a in (b"}, "selector"},
		{"base folder escapes", []string{"--repo", t.TempDir() + "/r", "--base-folder", "../x"}, ".."},
		{"standalone flag without --repo", []string{"-n", "default"}, "need --repo"},
		{"unknown flag", []string{"--frobnicate"}, "frobnicate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := cli(t, append([]string{"snapshot", "--kubeconfig", kc}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
