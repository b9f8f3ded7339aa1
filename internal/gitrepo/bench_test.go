package gitrepo_test

import (
	"context"
	"fmt"
	"strings"
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

// BenchmarkApplyBurst measures one Apply of n one-file commits (a burst with commitWindow 0s),
// new files spread over 32 folders, pushed to a file:// remote whose branch already holds 100
// or 10,000 files: the cost should follow n, not the history. Compare ns/op across n and size.
func BenchmarkApplyBurst(b *testing.B) {
	for _, seedFiles := range []int{100, 10000} {
		for _, n := range []int{2000, 20000} {
			b.Run(fmt.Sprintf("files=%d/commits=%d", seedFiles, n), func(b *testing.B) {
				benchmarkApplyBurst(b, seedFiles, n)
			})
		}
	}
}

func benchmarkApplyBurst(b *testing.B, seedFiles, n int) {
	const folders = 32
	remote := gitserver.NewBare(b, "main")
	seed := make(map[string]string, seedFiles)
	for i := range seedFiles {
		seed[fmt.Sprintf("ns-%02d/configmaps/seed-%05d.yaml", i%folders, i)] = fmt.Sprintf("name: seed-%d\n", i)
	}
	remote.PushFiles(b, "main", seed, "seed")
	r := open(b, gitrepo.Options{URL: remote.URL, Dir: b.TempDir()})
	payload := strings.Repeat("data: some configuration text\n", 32)
	for round := 0; b.Loop(); round++ {
		commits := make([]gitrepo.Commit, n)
		for i := range commits {
			path := fmt.Sprintf("ns-%02d/configmaps/burst-%d-%06d.yaml", i%folders, round, i)
			commits[i] = commit("create "+path, add(path, fmt.Sprintf("name: burst-%d-%d\n%s", round, i, payload)))
		}
		res, err := r.Apply(context.Background(), static(commits...))
		if err != nil {
			b.Fatal(err)
		}
		if res.Commits != n {
			b.Fatalf("%d commits, want %d", res.Commits, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/commit")
}
