// Package diff compares a desired Tree with the files at a Git branch head and
// owns the resulting Changeset: adds, updates and orphan deletions.
package diff

import (
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
)

// Change is one file to write or remove.
type Change struct {
	Path string
	Op   change.Op
	// Hash is the blob of the file written; zero for Delete.
	Hash plumbing.Hash
	// Content is the file's bytes when the change carries them (a watch event); a resync's
	// changes name only Hash, whose blob is stored already.
	Content []byte
}

// Desired is the desired state of a destination: repository path -> Git blob hash. It holds
// hashes, not contents, so that a resync of many objects keeps little of each.
type Desired map[string]plumbing.Hash

// Changeset is a list of changes, sorted by path, at most one per path.
type Changeset []Change

// Current is the state of the branch head: repository path -> Git blob hash.
type Current map[string]plumbing.Hash
