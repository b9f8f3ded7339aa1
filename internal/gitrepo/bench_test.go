package gitrepo_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

// BenchmarkApply measures a one-file commit, pushed to a file:// remote, on
// repositories of 100 and 10,000 files: the cost should not follow the size.
// Compare the ns/op of the two sub-benchmarks (the ratio is the point).
func BenchmarkApply(b *testing.B) {
	for _, size := range []struct{ folders, perFolder int }{{10, 10}, {100, 100}} {
		files := size.folders * size.perFolder
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) {
			for _, dir := range []string{"memory", "disk"} {
				b.Run("clone="+dir, func(b *testing.B) {
					benchmarkApply(b, size.folders, size.perFolder, dir == "disk")
				})
			}
		})
	}
}

func benchmarkApply(b *testing.B, folders, perFolder int, onDisk bool) {
	remote := gitserver.NewBare(b, "main")
	seed := make(map[string]string, folders*perFolder)
	for f := range folders {
		for i := range perFolder {
			seed[fmt.Sprintf("ns-%03d/configmaps/cm-%03d.yaml", f, i)] = fmt.Sprintf("name: cm-%d-%d\n", f, i)
		}
	}
	remote.PushFiles(b, "main", seed, "seed")
	opts := gitrepo.Options{URL: remote.URL}
	if onDisk {
		opts.Dir = b.TempDir()
	}
	r := open(b, opts)
	ctx := context.Background()

	for i := 0; b.Loop(); i++ {
		path := fmt.Sprintf("ns-%03d/configmaps/cm-%03d.yaml", i%folders, i%perFolder)
		c := commit("bench", put(path, fmt.Sprintf("name: changed-%d\n", i)))
		if _, err := r.Apply(ctx, static(c)); err != nil {
			b.Fatal(err)
		}
	}
}
