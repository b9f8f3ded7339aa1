package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/index"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/utils/merkletrie"
)

// syncWorktree moves the index and working tree of a non-bare local
// repository from base to tip when the branch is checked out there. Only the
// paths that differ between the two trees are touched; other files on disk
// (untracked or modified) are left alone.
func (r *Repo) syncWorktree(base *headView, tip plumbing.Hash) error {
	if r.worktree == "" || !r.branchCheckedOut() {
		return nil
	}
	to, err := newHeadView(r.repo.Storer, tip)
	if err != nil {
		return err
	}
	changes, err := object.DiffTree(base.tree, to.tree)
	if err != nil {
		return fmt.Errorf("working tree: diff trees: %w", err)
	}
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return fmt.Errorf("working tree: read index: %w", err)
	}
	// Removals first, so a file can take the place of a removed directory and
	// the other way round.
	for _, ch := range changes {
		if err := r.removeFromWorktree(idx, ch); err != nil {
			return err
		}
	}
	for _, ch := range changes {
		if err := r.writeToWorktree(idx, ch); err != nil {
			return err
		}
	}
	if err := r.repo.Storer.SetIndex(idx); err != nil {
		return fmt.Errorf("working tree: write index: %w", err)
	}
	return nil
}

func (r *Repo) branchCheckedOut() bool {
	head, err := r.repo.Storer.Reference(plumbing.HEAD)
	return err == nil && head.Type() == plumbing.SymbolicReference && head.Target() == r.branch
}

func (r *Repo) removeFromWorktree(idx *index.Index, ch *object.Change) error {
	action, err := ch.Action()
	if err != nil {
		return err
	}
	if action != merkletrie.Delete {
		return nil
	}
	name := ch.From.Name
	full := filepath.Join(r.worktree, filepath.FromSlash(name))
	if err := os.Remove(full); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("working tree: remove %s: %w", name, err)
	}
	if _, err := idx.Remove(name); err != nil && !errors.Is(err, index.ErrEntryNotFound) {
		return fmt.Errorf("working tree: unstage %s: %w", name, err)
	}
	removeEmptyParents(r.worktree, filepath.Dir(full))
	return nil
}

func (r *Repo) writeToWorktree(idx *index.Index, ch *object.Change) error {
	action, err := ch.Action()
	if err != nil {
		return err
	}
	if action == merkletrie.Delete {
		return nil
	}
	entry := ch.To.TreeEntry
	if entry.Mode == filemode.Submodule {
		return nil
	}
	name := ch.To.Name
	full := filepath.Join(r.worktree, filepath.FromSlash(name))
	if err := r.writeFile(full, entry); err != nil {
		return fmt.Errorf("working tree: write %s: %w", name, err)
	}
	info, err := os.Lstat(full)
	if err != nil {
		return fmt.Errorf("working tree: %w", err)
	}
	e, err := idx.Entry(name)
	if errors.Is(err, index.ErrEntryNotFound) {
		e = idx.Add(name)
	} else if err != nil {
		return fmt.Errorf("working tree: stage %s: %w", name, err)
	}
	e.Hash, e.Mode, e.Size = entry.Hash, entry.Mode, uint32(info.Size())
	e.ModifiedAt = info.ModTime()
	fillStat(e, info)
	return nil
}

// writeFile puts the blob on disk with the entry's mode.
func (r *Repo) writeFile(full string, entry object.TreeEntry) error {
	blob, err := object.GetBlob(r.repo.Storer, entry.Hash)
	if err != nil {
		return err
	}
	rd, err := blob.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	if err := os.Remove(full); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if entry.Mode == filemode.Symlink {
		target, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		return os.Symlink(string(target), full)
	}
	perm := os.FileMode(0o644)
	if entry.Mode == filemode.Executable {
		perm = 0o755
	}
	f, err := os.OpenFile(full, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, werr := io.Copy(f, rd)
	return firstErr(werr, f.Close())
}

// removeEmptyParents removes dir and its parents while they are empty,
// stopping at root.
func removeEmptyParents(root, dir string) {
	for dir != root && len(dir) > len(root) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}
