package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// compactAfter is how many packs a clone on disk may hold before the small ones are merged.
const compactAfter = 32

// compact merges every pack but the largest into one once the clone holds more than
// compactAfter: each push and fetch adds a pack, and object lookups slow down with their
// number. The cost follows the objects of the small packs, not the repository.
func (r *Repo) compact() error {
	fss, ok := r.repo.Storer.(*filesystem.Storage)
	if !ok || r.local {
		return nil
	}
	packs, err := fss.ObjectPacks()
	if err != nil || len(packs) <= compactAfter {
		return err
	}
	fs := fss.Filesystem()
	largest, largestSize := plumbing.ZeroHash, int64(-1)
	for _, h := range packs {
		fi, err := fs.Stat(packFile(h, ".pack"))
		if err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		if fi.Size() > largestSize {
			largest, largestSize = h, fi.Size()
		}
	}
	seen := map[plumbing.Hash]bool{}
	var objects, merged []plumbing.Hash
	for _, h := range packs {
		if h == largest {
			continue
		}
		if err := packObjects(fs, h, func(o plumbing.Hash) {
			if !seen[o] {
				seen[o] = true
				objects = append(objects, o)
			}
		}); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		merged = append(merged, h)
	}
	w, err := fss.PackfileWriter()
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if _, err := packfile.NewEncoder(w, fss, false).Encode(objects, 10); err != nil {
		w.Close()
		return fmt.Errorf("compact: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	for _, h := range merged {
		if err := fss.DeleteOldObjectPackAndIndex(h, time.Time{}); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
	}
	// The storage caches the indexes of the packs just removed: open the clone afresh.
	repo, err := openBare(r.opts.Dir)
	if err != nil {
		return fmt.Errorf("compact: reopen: %w", err)
	}
	r.repo = repo
	return nil
}

func packFile(h plumbing.Hash, ext string) string {
	return path.Join("objects", "pack", "pack-"+h.String()+ext)
}

// packObjects calls fn with every object in the pack h, read from its index.
func packObjects(fs billy.Filesystem, h plumbing.Hash, fn func(plumbing.Hash)) error {
	f, err := fs.Open(packFile(h, ".idx"))
	if err != nil {
		return err
	}
	defer f.Close()
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(f).Decode(idx); err != nil {
		return fmt.Errorf("read index of pack %s: %w", h, err)
	}
	iter, err := idx.Entries()
	if err != nil {
		return err
	}
	defer iter.Close()
	for {
		e, err := iter.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(e.Hash)
	}
}
