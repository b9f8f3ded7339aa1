package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Head gives read access to the branch head the commits are built on. It is
// valid during the BuildFunc call it is passed to.
type Head interface {
	// Hash is the head commit; zero when the branch does not exist yet.
	Hash() plumbing.Hash
	// Files maps every file under prefix ("" = all) to its blob hash; paths
	// are relative to the repository root.
	Files(prefix string) (Files, error)
	// Read returns the content of the file at path, and whether it exists.
	Read(path string) ([]byte, bool, error)
	// Blob stores content in the pack the commits will be written to and returns its hash,
	// for a Change that names its Blob. A head passed to View is read-only: Blob fails.
	Blob(content []byte) (plumbing.Hash, error)
}

// errReadOnly is Blob's error on a head that is only read.
var errReadOnly = errors.New("the head is read-only")

// headView is a Head over an object store.
type headView struct {
	s    storer.EncodedObjectStorer
	hash plumbing.Hash
	tree *object.Tree  // nil when the branch does not exist
	w    *objectWriter // where Blob stores; nil for a read-only head
}

var _ Head = (*headView)(nil)

func newHeadView(s storer.EncodedObjectStorer, commit plumbing.Hash) (*headView, error) {
	h := &headView{s: s, hash: commit}
	if commit.IsZero() {
		return h, nil
	}
	c, err := object.GetCommit(s, commit)
	if err != nil {
		return nil, fmt.Errorf("read head commit %s: %w", commit, err)
	}
	if h.tree, err = c.Tree(); err != nil {
		return nil, fmt.Errorf("read head tree %s: %w", c.TreeHash, err)
	}
	return h, nil
}

func (h *headView) Hash() plumbing.Hash { return h.hash }

func (h *headView) Blob(content []byte) (plumbing.Hash, error) {
	if h.w == nil {
		return plumbing.ZeroHash, errReadOnly
	}
	hash := plumbing.ComputeHash(plumbing.BlobObject, content)
	return hash, h.w.blob(hash, content)
}

// treeHash is the head's tree, zero when the branch does not exist.
func (h *headView) treeHash() plumbing.Hash {
	if h.tree == nil {
		return plumbing.ZeroHash
	}
	return h.tree.Hash
}

func (h *headView) Files(prefix string) (Files, error) {
	files := Files{}
	prefix = strings.Trim(prefix, "/")
	if h.tree == nil {
		return files, nil
	}
	root := h.tree
	if prefix != "" {
		entry, ok, err := h.entry(prefix)
		if err != nil {
			return nil, fmt.Errorf("files under %q: %w", prefix, err)
		}
		if !ok || entry.Mode != filemode.Dir {
			return files, nil
		}
		sub, err := object.GetTree(h.s, entry.Hash)
		if err != nil {
			return nil, fmt.Errorf("files under %q: %w", prefix, err)
		}
		root = sub
	}
	walker := object.NewTreeWalker(root, true, nil)
	defer walker.Close()
	for {
		name, entry, err := walker.Next()
		if err == io.EOF {
			return files, nil
		}
		if err != nil {
			return nil, fmt.Errorf("files under %q: %w", prefix, err)
		}
		if entry.Mode == filemode.Dir || entry.Mode == filemode.Submodule {
			continue
		}
		files[path.Join(prefix, name)] = entry.Hash
	}
}

func (h *headView) Read(p string) ([]byte, bool, error) {
	entry, ok, err := h.entry(strings.Trim(p, "/"))
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", p, err)
	}
	if !ok || entry.Mode == filemode.Dir || entry.Mode == filemode.Submodule {
		return nil, false, nil
	}
	blob, err := object.GetBlob(h.s, entry.Hash)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", p, err)
	}
	r, err := blob.Reader()
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", p, err)
	}
	defer r.Close()
	content, err := io.ReadAll(r)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", p, err)
	}
	return content, true, nil
}

// entry finds the tree entry at path; false when there is none, when a file
// is in the way, or when the path is not one Git would store.
func (h *headView) entry(p string) (*object.TreeEntry, bool, error) {
	if h.tree == nil || p == "" || validatePath(p) != nil {
		return nil, false, nil
	}
	e, err := h.tree.FindEntry(p)
	switch {
	case err == nil:
		return e, true, nil
	case errors.Is(err, object.ErrEntryNotFound), errors.Is(err, object.ErrDirectoryNotFound),
		errors.Is(err, plumbing.ErrObjectNotFound):
		return nil, false, nil
	}
	return nil, false, err
}
