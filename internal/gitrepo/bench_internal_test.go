package gitrepo

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/memory"
)

// BenchmarkWriteCommit measures building one one-file commit (objects only, stored as a push
// would store them, no
// network) on trees of 100 and 10,000 files. BenchmarkApply adds the fetch and
// push around it.
func BenchmarkWriteCommit(b *testing.B) {
	for _, size := range []struct{ folders, perFolder int }{{10, 10}, {100, 100}} {
		b.Run(fmt.Sprintf("files=%d", size.folders*size.perFolder), func(b *testing.B) {
			benchmarkWriteCommit(b, size.folders, size.perFolder)
		})
	}
}

func benchmarkWriteCommit(b *testing.B, folders, perFolder int) {
	sig := Signature{Name: "bench", Email: "bench@example.com"}
	path := func(f, i int) string { return fmt.Sprintf("ns-%03d/configmaps/cm-%03d.yaml", f, i) }
	var seed []Change
	for f := range folders {
		for i := range perFolder {
			seed = append(seed, Change{Path: path(f, i), Content: []byte(path(f, i))})
		}
	}
	s := memory.NewStorage()
	// write makes the commits and stores their pack, as a push would.
	write := func(parent, tree plumbing.Hash, commits ...Commit) chain {
		w := newObjectWriter(s, "")
		c, err := writeCommits(w, parent, tree, commits, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		p, err := w.pack.finish()
		if err != nil {
			b.Fatal(err)
		}
		if err := packfile.UpdateObjectStorage(s, bytes.NewReader(p.data.mem)); err != nil {
			b.Fatal(err)
		}
		return c
	}
	c := write(plumbing.ZeroHash, plumbing.ZeroHash, Commit{Changes: seed, Committer: sig, Message: "seed"})
	for i := 0; b.Loop(); i++ {
		change := Change{Path: path(i%folders, i%perFolder), Content: fmt.Appendf(nil, "v%d", i)}
		c = write(c.tip, c.tree, Commit{Changes: []Change{change}, Committer: sig, Message: "one"})
	}
}
