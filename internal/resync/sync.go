package resync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/go-git/go-git/v5/plumbing"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
)

// Outcome is what one resync did to a branch.
type Outcome struct {
	// Built is what the resync built; nil when it failed before building.
	Built   *Built
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

// CurrentAt reports whether the head already holds f.
func CurrentAt(head gitrepo.Head, t *destination.Target, f destination.File) bool {
	existing, found, err := head.Read(f.Path)
	return err == nil && found && t.Current(f, existing)
}

// Sync builds t's files from objs against the branch head and brings the branch to them with
// one reconcile commit, pushed. Contents the head lacks go into the push's pack as they are
// rendered. A branch that already matches gets no commit. After a rejected push everything
// is built again against the new head, so foreign commits stay and nothing is lost.
func Sync(ctx context.Context, log *slog.Logger, repo gitrepo.Writer, objs Objects, t *destination.Target, unavailable func(schema.GroupResource) bool) (Outcome, error) {
	var out Outcome
	res, err := repo.Apply(ctx, func(ctx context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		out.Head = head.Hash()
		cur, err := Files(head, t.BaseFolder)
		if err != nil {
			return nil, err
		}
		out.Built = Build(ctx, log, objs, t, unavailable, Against(head, cur, t, true))
		var commits []gitrepo.Commit
		out.Changes, commits = Reconcile(head, cur, t, out.Built, nil)
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
	cs := diff.Diff(b.Tree, cur, diff.Options{BaseFolder: t.BaseFolder, Prune: t.Prune, Keep: b.Keep})
	if leave != nil {
		cs = slices.DeleteFunc(cs, func(ch diff.Change) bool { return leave(ch.Path) })
	}
	if len(cs) == 0 && !head.Hash().IsZero() {
		return nil, nil
	}
	return cs, []gitrepo.Commit{t.Style("").Reconcile(cs)}
}

// DryRun builds t's files from objs and computes the changeset against the branch head
// without writing anything.
func DryRun(ctx context.Context, log *slog.Logger, repo gitrepo.Reader, objs Objects, t *destination.Target, unavailable func(schema.GroupResource) bool) (Outcome, error) {
	var out Outcome
	err := repo.View(ctx, func(ctx context.Context, head gitrepo.Head) error {
		cur, err := Files(head, t.BaseFolder)
		if err != nil {
			return err
		}
		out.Built = Build(ctx, log, objs, t, unavailable, Against(head, cur, t, false))
		out.Changes = diff.Diff(out.Built.Tree, cur, diff.Options{BaseFolder: t.BaseFolder, Prune: t.Prune, Keep: out.Built.Keep})
		return nil
	})
	return out, err
}
