package gitrepo_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

func TestReopenClone(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	dir := filepath.Join(t.TempDir(), "clone")
	first, err := gitrepo.Open(context.Background(), gitrepo.Options{URL: remote.URL, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, first, static(commit("first", add("a.yaml", "a\n"))))
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	foreign := remote.PushFile(t, "main", "b.yaml", "b\n", "foreign")

	second := open(t, gitrepo.Options{URL: remote.URL, Dir: dir})
	res := apply(t, second, func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		if head.Hash().String() != foreign {
			t.Errorf("reopened clone built on %s, want %s", head.Hash(), foreign)
		}
		return []gitrepo.Commit{commit("second", add("c.yaml", "c\n"))}, nil
	})

	if res.Attempts != 1 {
		t.Errorf("attempts = %d, want 1", res.Attempts)
	}
	want := map[string]string{"a.yaml": "a\n", "b.yaml": "b\n", "c.yaml": "c\n"}
	if diff := cmp.Diff(want, remote.Files(t, "main")); diff != "" {
		t.Errorf("remote files (-want +got):\n%s", diff)
	}
}

func TestUnusableCloneIsReplaced(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, dir string)
	}{
		{name: "garbage HEAD", spoil: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "HEAD"), "garbage\x00\x01")
		}},
		{name: "objects removed", spoil: func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, "objects")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "garbage config", spoil: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "config"), "[[[ not a config")
		}},
		{name: "clone of another URL", spoil: func(t *testing.T, dir string) {
			other := gitserver.NewBare(t, "main")
			gitCLI(t, dir, "remote", "set-url", "origin", other.URL)
		}},
		{name: "tracking ref to a missing commit", spoil: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "refs", "remotes", "origin", "main"),
				"0123456789012345678901234567890123456789\n")
		}},
		{name: "empty directory", spoil: func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote := gitserver.NewBare(t, "main")
			dir := filepath.Join(t.TempDir(), "clone")
			first, err := gitrepo.Open(context.Background(), gitrepo.Options{URL: remote.URL, Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			apply(t, first, static(commit("first", add("a.yaml", "a\n"))))
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			head := remote.Head(t, "main")
			tc.spoil(t, dir)

			r := open(t, gitrepo.Options{URL: remote.URL, Dir: dir})
			apply(t, r, static(commit("second", add("b.yaml", "b\n"))))

			log := remote.Log(t, "main")
			if len(log) != 2 || !cmp.Equal(log[0].Parents, []string{head}) {
				t.Errorf("log = %+v, want the new commit on top of %s", log, head)
			}
			remote.Fsck(t)
			if got := strings.TrimSpace(gitCLI(t, dir, "config", "remote.origin.url")); got != remote.URL {
				t.Errorf("clone's origin = %q, want %q", got, remote.URL)
			}
			if out := gitCLI(t, dir, "fsck", "--no-progress", "--no-dangling"); out != "" {
				t.Errorf("clone fsck: %s", out)
			}
		})
	}
}

func TestCloneDirWithOtherContentIsKept(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "precious.txt"), "keep me")

	_, err := gitrepo.Open(context.Background(), gitrepo.Options{URL: remote.URL, Dir: dir})

	if !errors.Is(err, gitrepo.ErrInvalidOptions) {
		t.Fatalf("err = %v, want ErrInvalidOptions", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "precious.txt")); err != nil || string(b) != "keep me" {
		t.Errorf("precious.txt = %q, %v; want it untouched", b, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestApplyKeepsPushedObjectsPacked: the clone on disk gains one pack per push, no loose
// objects, so it does not grow by a file per object.
func TestApplyKeepsPushedObjectsPacked(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	dir := t.TempDir() + "/clone"
	r := open(t, gitrepo.Options{URL: remote.URL, Dir: dir})
	for i := range 3 {
		apply(t, r, static(commit(fmt.Sprintf("c%d", i), add(fmt.Sprintf("ns/configmaps/o%d.yaml", i), "x\n"), add("ns/configmaps/shared.yaml", fmt.Sprint(i)))))
	}
	entries, err := os.ReadDir(filepath.Join(dir, "objects"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "pack" && e.Name() != "info" {
			t.Errorf("loose object folder %s in the clone", e.Name())
		}
	}
	if got := remote.Count(t, "main"); got != 3 {
		t.Fatalf("commits = %d, want 3", got)
	}
	// The clone still serves the head it pushed: reopen and read it.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = open(t, gitrepo.Options{URL: remote.URL, Dir: dir})
	err = r.View(context.Background(), func(_ context.Context, head gitrepo.Head) error {
		b, ok, err := head.Read("ns/configmaps/shared.yaml")
		if err != nil || !ok || string(b) != "2" {
			t.Errorf("shared.yaml = %q, %v, %v", b, ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestManyPushesKeepFewPacks: every push adds a pack; past a bound the small ones are merged,
// and nothing the branch needs is lost on the way.
func TestManyPushesKeepFewPacks(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	dir := t.TempDir() + "/clone"
	r := open(t, gitrepo.Options{URL: remote.URL, Dir: dir})
	const pushes = 45
	foreign := map[string]string{}
	for i := range pushes {
		if i%9 == 4 {
			// Someone else pushes similar large files: the clone fetches packs with OFS_DELTAs.
			for j := range 5 {
				foreign[fmt.Sprintf("foreign/f%d.yaml", j)] = strings.Repeat(fmt.Sprintf("line %d of a long file\n", i), 200) + fmt.Sprint(j)
			}
			remote.PushFiles(t, "main", foreign, "foreign")
		}
		apply(t, r, static(commit(fmt.Sprintf("c%d", i), add(fmt.Sprintf("ns/configmaps/o%02d.yaml", i), fmt.Sprintf("v%d\n", i)))))
	}
	packs, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	if err != nil {
		t.Fatal(err)
	}
	if len(packs) > 33 || len(packs) == 0 {
		t.Errorf("%d packs after %d pushes, want them merged past 32", len(packs), pushes)
	}
	// Every file is still readable from the clone, after reopening it from disk.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	r = open(t, gitrepo.Options{URL: remote.URL, Dir: dir})
	err = r.View(context.Background(), func(_ context.Context, head gitrepo.Head) error {
		files, err := head.Files("")
		if err != nil {
			return err
		}
		if len(files) != pushes+len(foreign) {
			t.Errorf("files = %d, want %d", len(files), pushes+len(foreign))
		}
		for p, want := range foreign {
			if b, ok, err := head.Read(p); err != nil || !ok || string(b) != want {
				t.Errorf("%s: %d bytes, %v, %v", p, len(b), ok, err)
			}
		}
		for i := range pushes {
			b, ok, err := head.Read(fmt.Sprintf("ns/configmaps/o%02d.yaml", i))
			if err != nil || !ok || string(b) != fmt.Sprintf("v%d\n", i) {
				t.Errorf("o%02d = %q, %v, %v", i, b, ok, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, r, static(commit("after", add("ns/configmaps/last.yaml", "x\n"))))
	remote.Fsck(t)
	if got, want := remote.Count(t, "main"), pushes+1+5; got != want {
		t.Errorf("commits = %d, want %d", got, want)
	}
	// The clone itself is a sound repository for Git.
	if out, err := exec.Command("git", "--git-dir", dir, "fsck", "--strict", "--no-dangling").CombinedOutput(); err != nil {
		t.Errorf("git fsck of the clone: %v\n%s", err, out)
	}
}
