package resync

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
)

// Outcome is what one resync did to a branch.
type Outcome struct {
	Changes diff.Changeset
	// Head is the branch head afterwards; zero when the branch does not exist.
	Head plumbing.Hash
}

// Files is the head's files under baseFolder: what a changeset is computed against.
func Files(head gitrepo.Head, baseFolder string) (diff.Current, error) {
	cur, err := head.Files(baseFolder)
	if err != nil {
		return nil, fmt.Errorf("read branch head: %w", err)
	}
	return diff.Current(cur), nil
}

// Changeset computes what a resync would change, against the current branch head.
func Changeset(head gitrepo.Head, t *destination.Target, b *Built) (diff.Changeset, error) {
	cur, err := Files(head, t.BaseFolder)
	if err != nil {
		return nil, err
	}
	return Diff(head, cur, t, b), nil
}

// Diff is Changeset for a caller that already has the head's files under baseFolder. An
// encrypted file is read from the head only when its bytes differ, to see whether it still
// holds the same plaintext: an unchanged Secret is never re-encrypted.
func Diff(head gitrepo.Head, cur diff.Current, t *destination.Target, b *Built) diff.Changeset {
	return diff.Diff(b.Tree, cur, diff.Options{
		BaseFolder: t.BaseFolder,
		Prune:      t.Prune,
		Keep:       b.Keep,
		Unchanged: func(p string) bool {
			f, ok := b.Encrypted[p]
			return ok && CurrentAt(head, t, f)
		},
	})
}

// CurrentAt reports whether the head already holds f.
func CurrentAt(head gitrepo.Head, t *destination.Target, f destination.File) bool {
	existing, found, err := head.Read(f.Path)
	return err == nil && found && t.Current(f, existing)
}

// Sync brings the branch to the built state with one reconcile commit, pushed. A branch that
// already matches gets no commit. After a rejected push the changeset is computed again
// against the new head, so foreign commits stay and nothing is lost.
func Sync(ctx context.Context, repo gitrepo.Writer, t *destination.Target, b *Built) (Outcome, error) {
	var out Outcome
	res, err := repo.Apply(ctx, func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		out.Head = head.Hash()
		cur, err := Files(head, t.BaseFolder)
		if err != nil {
			return nil, err
		}
		var commits []gitrepo.Commit
		out.Changes, commits = Reconcile(head, cur, t, b, nil)
		return commits, nil
	})
	if errors.Is(err, gitrepo.ErrNothingToCommit) {
		out.Changes = nil
		return out, nil
	}
	if err != nil {
		return out, err
	}
	out.Head = res.Head
	return out, nil
}

// Reconcile is the changeset of a resync against the head (whose files under baseFolder are
// cur) and the commit that makes it: one reconcile commit. A missing branch gets its first
// commit even with nothing to write. Paths for which leave is true (nil: none) are left as
// they are at the head.
func Reconcile(head gitrepo.Head, cur diff.Current, t *destination.Target, b *Built, leave func(path string) bool) (diff.Changeset, []gitrepo.Commit) {
	cs := Diff(head, cur, t, b)
	if leave != nil {
		cs = slices.DeleteFunc(cs, func(ch diff.Change) bool { return leave(ch.Path) })
	}
	if len(cs) == 0 && !head.Hash().IsZero() {
		return nil, nil
	}
	return cs, []gitrepo.Commit{t.Style("").Reconcile(cs)}
}

// DryRun computes the changeset without writing anything.
func DryRun(ctx context.Context, repo gitrepo.Reader, t *destination.Target, b *Built) (diff.Changeset, error) {
	var cs diff.Changeset
	err := repo.View(ctx, func(_ context.Context, head gitrepo.Head) error {
		var err error
		cs, err = Changeset(head, t, b)
		return err
	})
	return cs, err
}
