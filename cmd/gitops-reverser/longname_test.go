package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// An object whose name is at the 253-byte limit gets a shortened file name: the repository
// checks out with `git clone` on Linux, the file names the object in metadata.name, and once
// the object is gone its file is recognised as an orphan and deleted.
func TestSnapshotLongNames(t *testing.T) {
	c := kubetest.NewClient(t, env.Config)
	const ns = "long-names"
	c.Namespace(t, ns)
	long := strings.Repeat("a", 200) + "." + strings.Repeat("b", 52) // 253 bytes, a DNS subdomain
	c.Create(t, configMap(ns, long, "v: \"1\"")+"---\n"+configMap(ns, "short", "v: \"1\""))
	remote := gitserver.NewBare(t, "main")
	kc := kubeconfig(t, "default")
	args := []string{"snapshot", "--kubeconfig", kc, "--repo", remote.URL, "-n", ns, "--resources", "configmaps"}
	if _, stderr, err := cli(t, args...); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, stderr)
	}

	path := ns + "/configmaps/" + snapshot.Stem(long) + ".yaml"
	if got := filepath.Base(path); len(got) > 255 || !strings.HasPrefix(got, long[:200]+"-") {
		t.Fatalf("file name %q (%d bytes)", got, len(got))
	}
	clone := filepath.Join(t.TempDir(), "clone")
	cmd := exec.Command("git", "clone", "-q", remote.URL, clone)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(clone, path))
	if err != nil {
		t.Fatalf("checked-out file: %v", err)
	}
	if want := configMapFile(ns, long, `v: "1"`); string(b) != want {
		t.Errorf("file:\n%s\nwant:\n%s", b, want)
	}
	if st := gitOut(t, clone, "status", "--porcelain"); st != "" {
		t.Errorf("checkout not clean: %s", st)
	}

	c.Delete(t, configMap(ns, long, ""))
	if _, stderr, err := cli(t, args...); err != nil {
		t.Fatalf("second snapshot: %v\n%s", err, stderr)
	}
	files := remote.Files(t, "main")
	if _, ok := files[path]; ok {
		t.Errorf("the deleted object's shortened file is still there")
	}
	if _, ok := files[ns+"/configmaps/short.yaml"]; !ok {
		t.Errorf("short.yaml is gone: %v", keys(files))
	}
}
