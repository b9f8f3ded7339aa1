// Package diff compares a desired Tree with the files at a Git branch head and
// owns the resulting Changeset: adds, updates and orphan deletions.
package diff

import (
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
)

// Change is one file to write or remove.
type Change struct {
	Path    string
	Op      change.Op
	Content []byte // nil for Delete
}

// Changeset is a list of changes, sorted by path, at most one per path.
type Changeset []Change

// Current is the state of the branch head: repository path -> Git blob hash.
type Current map[string]plumbing.Hash
