// Package diff compares a desired Tree with the files at a Git branch head and
// owns the resulting Changeset: adds, updates and orphan deletions.
package diff

import "github.com/go-git/go-git/v5/plumbing"

// Op is what a Change does to a file.
type Op int

const (
	Add Op = iota
	Update
	Delete
)

// String is the commit-message verb of the operation.
func (o Op) String() string {
	switch o {
	case Add:
		return "CREATE"
	case Update:
		return "UPDATE"
	default:
		return "DELETE"
	}
}

// Change is one file to write or remove.
type Change struct {
	Path    string
	Op      Op
	Content []byte // nil for Delete
}

// Changeset is a list of changes, sorted by path, at most one per path.
type Changeset []Change

// Current is the state of the branch head: repository path -> Git blob hash.
type Current map[string]plumbing.Hash
