package gitrepo_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

// TestTreesMatchGit writes the same files through gitrepo and through the git
// CLI: equal tree hashes mean byte-identical trees (entry order, modes).
func TestTreesMatchGit(t *testing.T) {
	files := map[string]string{
		"a.yaml":       "1",
		"a/b.yaml":     "2",
		"a-b.yaml":     "3",
		"a0":           "4",
		"a/b/c.yaml":   "5",
		"a/b.c/d.yaml": "6",
		"A.yaml":       "7",
		"_cluster/x":   "8",
	}
	viaCLI := gitserver.NewBare(t, "main")
	viaCLI.PushFiles(t, "main", files, "cli")

	viaRepo := gitserver.NewBare(t, "main")
	var changes []gitrepo.Change
	for p, c := range files {
		changes = append(changes, add(p, c))
	}
	r := open(t, gitrepo.Options{URL: viaRepo.URL})
	apply(t, r, static(commit("gitrepo", changes...)))

	treeOf := func(remote *gitserver.Remote) string {
		return strings.TrimSpace(gitCLI(t, remote.Dir, "rev-parse", "main^{tree}"))
	}
	if got, want := treeOf(viaRepo), treeOf(viaCLI); got != want {
		t.Errorf("tree = %s, git CLI made %s", got, want)
	}
	viaRepo.Fsck(t)
}

func TestFileAndFolderSwapPlaces(t *testing.T) {
	tests := []struct {
		name    string
		changes []gitrepo.Change
	}{
		{name: "sorted by path", changes: []gitrepo.Change{
			add("d", "now a file"), del("d/inner.yaml"), del("x"), add("x/now-a-folder.yaml", "f"),
		}},
		{name: "removals first", changes: []gitrepo.Change{
			del("d/inner.yaml"), del("x"), add("d", "now a file"), add("x/now-a-folder.yaml", "f"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote := gitserver.NewBare(t, "main")
			remote.PushFiles(t, "main", map[string]string{"x": "file x", "d/inner.yaml": "inner"}, "seed")
			r := open(t, gitrepo.Options{URL: remote.URL})

			apply(t, r, static(commit("swap", tc.changes...)))

			want := map[string]string{"x/now-a-folder.yaml": "f", "d": "now a file"}
			if diff := cmp.Diff(want, remote.Files(t, "main")); diff != "" {
				t.Errorf("remote files (-want +got):\n%s", diff)
			}
			remote.Fsck(t)
		})
	}
}
