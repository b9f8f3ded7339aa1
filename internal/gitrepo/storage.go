package gitrepo

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
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

// directPackObjects is the size from which a pack goes into a clone on disk as files.
const directPackObjects = 1000

// store adds a pack built by this Repo to the clone. A large pack goes into a clone on disk as
// files with the index already made, and the clone is reopened to see them: go-git would
// otherwise parse the whole pack again and resolve every delta to index it. Reopening reads
// every pack's index, so a small pack (one change) goes through go-git, whose cost follows the
// pack, not the repository. A local repository always takes the objects through go-git.
func (r *Repo) store(p *builtPack) error {
	if r.local || p.objects < directPackObjects {
		data, err := p.data.open()
		if err != nil {
			return fmt.Errorf("store new objects: %w", err)
		}
		defer data.Close()
		if err := packfile.UpdateObjectStorage(r.repo.Storer, data); err != nil {
			return fmt.Errorf("store new objects: %w", err)
		}
		return nil
	}
	if err := writePackFiles(r.opts.Dir, p); err != nil {
		return fmt.Errorf("store new objects: %w", err)
	}
	if c, ok := r.repo.Storer.(io.Closer); ok {
		_ = c.Close() // its descriptors of the old packs; they are opened again on use
	}
	repo, err := openBare(r.opts.Dir)
	if err != nil {
		return fmt.Errorf("store new objects: reopen clone: %w", err)
	}
	r.repo = repo
	return nil
}

// writePackFiles writes the pack and its index through temporary files, then puts the index in
// place and the pack last: go-git lists packs by their .pack file and cannot open a clone with
// a pack whose index is missing, so a failure or a kill in between must leave no .pack.
func writePackFiles(dir string, p *builtPack) (err error) {
	var idx bytes.Buffer
	if _, err := idxfile.NewEncoder(&idx).Encode(p.index); err != nil {
		return err
	}
	base := filepath.Join(dir, packFile(p.checksum, ""))
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		return err
	}
	exts := []string{".idx", ".pack"}
	defer func() {
		if err != nil {
			for _, ext := range exts {
				_ = os.Remove(base + ext + ".tmp")
			}
		}
	}()
	if err := os.WriteFile(base+".idx.tmp", idx.Bytes(), 0o644); err != nil {
		return err
	}
	if err := p.data.place(base + ".pack.tmp"); err != nil {
		return err
	}
	for _, ext := range exts {
		if err := os.Rename(base+ext+".tmp", base+ext); err != nil {
			return err
		}
	}
	return nil
}
