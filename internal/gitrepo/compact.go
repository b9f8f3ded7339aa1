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
	var merged []plumbing.Hash
	for _, h := range packs {
		if h != largest {
			merged = append(merged, h)
		}
	}
	out := newPackBuilder(packTempDir(r.opts.Dir))
	defer out.discard()
	p, err := mergePacks(fs, out, merged)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	if err := writePackFiles(r.opts.Dir, p); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	var deleteErr error
	for _, h := range merged {
		if h == p.checksum {
			continue
		}
		if err := fss.DeleteOldObjectPackAndIndex(h, time.Time{}); err != nil {
			deleteErr = err
			break
		}
	}
	// The storage caches the indexes of the packs just removed, and does not know the merged
	// one: open the clone afresh, also when a delete failed (the objects are all in the merged
	// pack, so a leftover small pack is only a duplicate).
	repo, err := openBare(r.opts.Dir)
	if err != nil {
		return fmt.Errorf("compact: reopen: %w", err)
	}
	r.repo = repo
	if deleteErr != nil {
		return fmt.Errorf("compact: %w", deleteErr)
	}
	return nil
}

func packFile(h plumbing.Hash, ext string) string {
	return path.Join("objects", "pack", "pack-"+h.String()+ext)
}

// mergePacks makes one pack of every object of packs, copying each entry's compressed bytes
// as they are: nothing is inflated, hashed or searched for deltas, so the cost follows the
// packs' size. An OFS_DELTA, whose base is known by its place in the old pack, becomes a
// REF_DELTA naming the base by hash. Every base is in the same pack as its delta (neither
// go-git's fetch nor this package writes thin packs), so it is in the merged one too.
func mergePacks(fs billy.Filesystem, out *packBuilder, packs []plumbing.Hash) (*builtPack, error) {
	for _, h := range packs {
		if err := copyPack(fs, h, out); err != nil {
			return nil, fmt.Errorf("pack %s: %w", h, err)
		}
	}
	return out.finish()
}

func copyPack(fs billy.Filesystem, h plumbing.Hash, out *packBuilder) error {
	idx := idxfile.NewMemoryIndex()
	f, err := fs.Open(packFile(h, ".idx"))
	if err != nil {
		return err
	}
	err = idxfile.NewDecoder(f).Decode(idx)
	f.Close()
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	f, err = fs.Open(packFile(h, ".pack"))
	if err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return err
	}
	iter, err := idx.EntriesByOffset()
	if err != nil {
		return err
	}
	defer iter.Close()
	var entries []*idxfile.Entry
	for {
		e, err := iter.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		entries = append(entries, e)
	}
	at := make(map[uint64]plumbing.Hash, len(entries))
	for _, e := range entries {
		at[e.Offset] = e.Hash
	}
	end := uint64(len(data)) - uint64(len(plumbing.Hash{})) // before the checksum
	for i, e := range entries {
		next := end
		if i+1 < len(entries) {
			next = entries[i+1].Offset
		}
		if e.Offset >= next || next > end {
			return errBadEntry
		}
		raw := data[e.Offset:next]
		if out.has(e.Hash) {
			continue
		}
		t, size, dist, n, err := readEntryHeader(raw)
		if err != nil {
			return err
		}
		if t != plumbing.OFSDeltaObject {
			if err := out.copied(e.Hash, nil, raw); err != nil {
				return err
			}
			continue
		}
		base, ok := at[e.Offset-dist]
		if !ok || dist == 0 || dist > e.Offset {
			return fmt.Errorf("%w: delta %s has no base", errBadEntry, e.Hash)
		}
		if err := out.copied(e.Hash, append(appendEntryHeader(nil, plumbing.REFDeltaObject, size), base[:]...), raw[n:]); err != nil {
			return err
		}
	}
	return nil
}
