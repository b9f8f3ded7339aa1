package diff

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/golden"
)

// caseOptions is options.json of a case in testdata/cases.
type caseOptions struct {
	BaseFolder string `json:"baseFolder"`
	Prune      bool   `json:"prune"`
	// Keep lists resource folders (configmaps, icecreamorders.shop.example.com) whose files are kept.
	Keep []string `json:"keep"`
}

// TestDiffCases runs each testdata/cases/<name>: desired/ is the desired tree, current/ the files at
// the head, options.json the Options; want.txt is the changeset.
func TestDiffCases(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases in testdata/cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			desired := readFiles(t, filepath.Join(dir, "desired"))
			current := Current{}
			for p, b := range readFiles(t, filepath.Join(dir, "current")) {
				current[p] = BlobHash(b)
			}
			opts := readOptions(t, filepath.Join(dir, "options.json"))
			want := Desired{}
			for p, b := range desired {
				want[p] = BlobHash(b)
			}
			cs := Diff(want, current, opts)
			for _, ch := range cs {
				if ch.Op != change.Delete && ch.Hash != want[ch.Path] {
					t.Errorf("%s %s: hash is not the desired blob's", ch.Op, ch.Path)
				}
			}
			golden.Text(t, filepath.Join("cases", filepath.Base(dir), "want.txt"), render(cs))
		})
	}
}

func render(cs Changeset) string {
	var b strings.Builder
	for _, ch := range cs {
		b.WriteString(ch.Op.String() + " " + ch.Path + "\n")
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// readFiles returns the files below root by slash-separated relative path; a missing root is empty.
func readFiles(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

func readOptions(t *testing.T, path string) Options {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var co caseOptions
	if err := json.Unmarshal(b, &co); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	opts := Options{BaseFolder: co.BaseFolder, Prune: co.Prune}
	if co.Keep != nil {
		opts.Keep = func(k snapshot.Key) bool { return slices.Contains(co.Keep, snapshot.ResourceFolder(k.Resource)) }
	}
	return opts
}
