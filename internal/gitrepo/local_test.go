package gitrepo_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
)

// gitCLI runs git in dir with a hermetic environment and returns its output.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return string(out)
}

// filesOnDisk maps every file under dir, outside .git, to its content.
func filesOnDisk(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestLocalPathNewRepository(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := open(t, gitrepo.Options{URL: dir})

	apply(t, r, static(commit("first",
		add("default/configmaps/app.yaml", "app\n"),
		add("default/configmaps/db.yaml", "db\n"),
		add("_cluster/namespaces/default.yaml", "ns\n"),
	)))

	want := map[string]string{
		"default/configmaps/app.yaml":      "app\n",
		"default/configmaps/db.yaml":       "db\n",
		"_cluster/namespaces/default.yaml": "ns\n",
	}
	if diff := cmp.Diff(want, filesOnDisk(t, dir)); diff != "" {
		t.Errorf("working tree (-want +got):\n%s", diff)
	}
	if got := strings.TrimSpace(gitCLI(t, dir, "rev-parse", "--abbrev-ref", "HEAD")); got != "main" {
		t.Errorf("checked-out branch = %q, want main", got)
	}
	if got := gitCLI(t, dir, "status", "--porcelain"); got != "" {
		t.Errorf("git status is not clean:\n%s", got)
	}

	apply(t, r, static(commit("second",
		del("_cluster/namespaces/default.yaml"),
		put("default/configmaps/app.yaml", "app v2\n"),
	)))

	want = map[string]string{"default/configmaps/app.yaml": "app v2\n", "default/configmaps/db.yaml": "db\n"}
	if diff := cmp.Diff(want, filesOnDisk(t, dir)); diff != "" {
		t.Errorf("working tree after the second Apply (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "_cluster")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("emptied folder _cluster is still on disk (stat: %v)", err)
	}
	if got := gitCLI(t, dir, "status", "--porcelain"); got != "" {
		t.Errorf("git status is not clean:\n%s", got)
	}
	if got := strings.Fields(gitCLI(t, dir, "log", "--format=%s")); !cmp.Equal(got, []string{"second", "first"}) {
		t.Errorf("log = %v, want [second first]", got)
	}
	if out := gitCLI(t, dir, "fsck", "--strict", "--no-progress", "--no-dangling"); out != "" {
		t.Errorf("fsck: %s", out)
	}
}

func TestLocalPathLeavesOtherFilesAlone(t *testing.T) {
	dir := t.TempDir() // exists and is empty: becomes a repository
	r := open(t, gitrepo.Options{URL: dir})
	apply(t, r, static(commit("first", add("a/x.yaml", "x\n"))))
	if err := os.WriteFile(filepath.Join(dir, "a", "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}

	apply(t, r, static(commit("second", del("a/x.yaml"))))

	if diff := cmp.Diff(map[string]string{"a/notes.txt": "mine"}, filesOnDisk(t, dir)); diff != "" {
		t.Errorf("working tree (-want +got):\n%s", diff)
	}
}

func TestLocalPathOtherBranchCheckedOut(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "repo")
	gitCLI(t, filepath.Dir(dir), "init", "--quiet", "--initial-branch=work", dir)
	r := open(t, gitrepo.Options{URL: dir, Branch: "snapshot"})

	apply(t, r, static(commit("first", add("a.yaml", "a\n"))))

	if got := filesOnDisk(t, dir); len(got) != 0 {
		t.Errorf("working tree of branch work got files %v", got)
	}
	if got := gitCLI(t, dir, "show", "snapshot:a.yaml"); got != "a\n" {
		t.Errorf("snapshot:a.yaml = %q, want %q", got, "a\n")
	}
}

func TestLocalBareRepository(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bare.git")
	gitCLI(t, filepath.Dir(dir), "init", "--quiet", "--bare", "--initial-branch=main", dir)
	r := open(t, gitrepo.Options{URL: dir})

	apply(t, r, static(commit("first", add("a.yaml", "a\n"))))

	if got := gitCLI(t, dir, "show", "main:a.yaml"); got != "a\n" {
		t.Errorf("main:a.yaml = %q, want %q", got, "a\n")
	}
}

func TestLocalPathNotARepository(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	_, err := gitrepo.Open(context.Background(), gitrepo.Options{URL: dir})

	if !errors.Is(err, gitrepo.ErrInvalidOptions) {
		t.Fatalf("err = %v, want ErrInvalidOptions", err)
	}
}

func TestLocalPathRebuildsAfterConcurrentCommit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	r := open(t, gitrepo.Options{URL: dir})
	apply(t, r, static(commit("first", add("a.yaml", "a\n"))))

	var heads []string
	res := apply(t, r, func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		heads = append(heads, head.Hash().String())
		if len(heads) == 1 { // someone commits in the repository meanwhile
			gitCLI(t, dir, "-c", "user.name=x", "-c", "user.email=x@x", "commit", "--quiet", "--allow-empty", "-m", "other")
		}
		return []gitrepo.Commit{commit("second", add("b.yaml", "b\n"))}, nil
	})

	other := strings.TrimSpace(gitCLI(t, dir, "rev-parse", "HEAD~1"))
	if len(heads) != 2 || heads[1] != other || res.Attempts != 2 {
		t.Errorf("build saw heads %v in %d attempts, want two, the second at %s", heads, res.Attempts, other)
	}
	if got := strings.Fields(gitCLI(t, dir, "log", "--format=%s")); !cmp.Equal(got, []string{"second", "other", "first"}) {
		t.Errorf("log = %v, want [second other first]", got)
	}
	if got := gitCLI(t, dir, "status", "--porcelain"); got != "" {
		t.Errorf("git status is not clean:\n%s", got)
	}
}
