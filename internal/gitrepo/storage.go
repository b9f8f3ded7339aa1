package gitrepo

import (
	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// cloneObjectCache bounds the decoded objects a clone keeps in memory. go-git's default
// (96 MiB) fills up with every blob of a large first push and stays resident; building a
// commit only reads the trees along the changed paths, which a few MiB hold.
const cloneObjectCache = 8 * cache.MiByte

// openBare opens the bare clone in dir with a bounded object cache.
func openBare(dir string) (*git.Repository, error) {
	return git.Open(bareStorage(dir), nil)
}

// initBare makes a bare clone in dir with a bounded object cache.
func initBare(dir string, branch plumbing.ReferenceName) (*git.Repository, error) {
	return git.InitWithOptions(bareStorage(dir), nil, git.InitOptions{DefaultBranch: branch})
}

func bareStorage(dir string) *filesystem.Storage {
	return filesystem.NewStorage(osfs.New(dir), cache.NewObjectLRU(cloneObjectCache))
}
