package diff

import (
	"sort"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// Options says which files at the head Diff may delete.
type Options struct {
	// BaseFolder is the folder, relative to the repository root, that holds our files; "" is the root.
	BaseFolder string
	// Prune deletes orphans: files of ours whose object is not desired.
	Prune bool
	// Keep reports files that must not be deleted even though they are not desired: objects of
	// a resource type whose list failed or whose API is unavailable. nil = keep nothing extra.
	Keep func(snapshot.Key) bool
}

// Diff compares the desired files (path -> blob hash) with the head files (path -> blob hash)
// and returns adds, updates and orphan deletions sorted by path.
//
// A desired path missing at the head is added, one whose blob differs is updated; equal
// content is no change. A head path that is not desired is deleted only when Prune is set,
// the path is one of ours under BaseFolder (snapshot.ParsePath) and Keep does not claim it; README.md,
// kustomization.yaml and other foreign files stay. Desired paths outside BaseFolder are still
// written: checking them is the caller's job.
func Diff(desired Desired, current Current, opts Options) Changeset {
	var cs Changeset
	for p, h := range desired {
		head, ok := current[p]
		switch {
		case !ok:
			cs = append(cs, Change{Path: p, Op: change.Create, Hash: h})
		case head != h:
			cs = append(cs, Change{Path: p, Op: change.Update, Hash: h})
		}
	}
	if opts.Prune {
		for p := range current {
			if _, ok := desired[p]; !ok && orphan(p, opts) {
				cs = append(cs, Change{Path: p, Op: change.Delete})
			}
		}
	}
	// Paths are unique (map keys of either side, never both), so sorting by path alone is total.
	sort.Slice(cs, func(i, j int) bool { return cs[i].Path < cs[j].Path })
	return cs
}

// orphan reports whether an undesired head file may be deleted: it must be one of ours under
// BaseFolder and not kept.
func orphan(p string, opts Options) bool {
	k, ok := snapshot.ParsePath(opts.BaseFolder, p)
	if !ok {
		return false
	}
	return opts.Keep == nil || !opts.Keep(k)
}

// BlobHash is the Git blob hash of content (what `git hash-object` prints), so desired bytes can
// be compared with tree entries without reading blobs.
func BlobHash(b []byte) plumbing.Hash {
	return plumbing.ComputeHash(plumbing.BlobObject, b)
}

// Counts returns how many changes of each operation the changeset holds.
func (c Changeset) Counts() (added, updated, deleted int) {
	for _, ch := range c {
		switch ch.Op {
		case change.Create:
			added++
		case change.Update:
			updated++
		case change.Delete:
			deleted++
		}
	}
	return added, updated, deleted
}
