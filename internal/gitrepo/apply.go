package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage"
)

// BuildFunc is called with the current head and returns the commits to make
// on top of it, in order. It is called again after a rejected push, with the
// new head.
type BuildFunc func(ctx context.Context, head Head) ([]Commit, error)

// Writer makes commits on a branch. Repo implements it.
type Writer interface {
	Apply(ctx context.Context, build BuildFunc) (Result, error)
}

// Reader reads a branch head without writing. Repo implements it.
type Reader interface {
	View(ctx context.Context, fn func(ctx context.Context, head Head) error) error
}

var (
	_ Writer = (*Repo)(nil)
	_ Reader = (*Repo)(nil)
)

// Result is what an Apply did.
type Result struct {
	// Head is the branch head after the push; with ErrNothingToCommit, the
	// unchanged head the commits were built on.
	Head plumbing.Hash
	// Commits is the number of commits made (commits that changed nothing
	// are skipped).
	Commits int
	// Attempts is the number of build-and-push rounds.
	Attempts int
}

// Backoff between attempts: base doubled per retry, capped, with jitter.
const (
	backoffBase = 100 * time.Millisecond
	backoffMax  = 2 * time.Second
)

// Apply builds commits on the branch head and publishes them: a push for a
// remote, a ref update (and the working tree, when the branch is checked out)
// for a local path. When another writer moved the branch first, it fetches,
// builds again on the new head and retries, at most Options.MaxAttempts
// times. It returns ErrNothingToCommit, having pushed nothing, when no commit
// changes anything.
func (r *Repo) Apply(ctx context.Context, build BuildFunc) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repo == nil {
		return Result{}, errors.New("apply on a closed Repo")
	}
	var lastErr error
	for attempt := 1; attempt <= r.opts.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return Result{Attempts: attempt - 1}, fmt.Errorf("%w (last: %w)", err, lastErr)
			}
		}
		res, err := r.attempt(ctx, build)
		res.Attempts = attempt
		if !errors.Is(err, errMoved) {
			return res, err
		}
		lastErr = err
	}
	return Result{Attempts: r.opts.MaxAttempts},
		fmt.Errorf("%w after %d attempts: %w", ErrConflict, r.opts.MaxAttempts, lastErr)
}

// View fetches the branch head (for a remote; always, even right after Open)
// and calls fn with it, writing nothing: for dry runs and status.
func (r *Repo) View(ctx context.Context, fn func(ctx context.Context, head Head) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repo == nil {
		return errors.New("view on a closed Repo")
	}
	r.fresh = false // nothing would catch a stale head here, unlike a push
	head, err := r.refresh(ctx)
	if err != nil {
		return err
	}
	return fn(ctx, head)
}

// attempt is one round: refresh, build, commit, publish.
func (r *Repo) attempt(ctx context.Context, build BuildFunc) (Result, error) {
	head, err := r.refresh(ctx)
	if err != nil {
		return Result{}, err
	}
	// The new objects go into one pack, the blobs as the build stores them. A remote's clone
	// stores it only once pushed, so a rejected attempt leaves nothing behind; a local
	// repository stores it before moving the branch, and a branch moved meanwhile leaves only
	// unreachable objects.
	w := newObjectWriter(r.repo.Storer, packTempDir(r.opts.Dir))
	defer w.pack.discard()
	head.w = w
	commits, err := build(ctx, head)
	head.w = nil
	if err != nil {
		return Result{}, fmt.Errorf("build commits: %w", err)
	}
	c, err := writeCommits(w, head.Hash(), head.treeHash(), commits, time.Now())
	if err != nil {
		return Result{}, err
	}
	if c.commits == 0 {
		return Result{Head: head.Hash()}, ErrNothingToCommit
	}
	pack, err := w.pack.finish()
	if err != nil {
		return Result{}, err
	}
	if err := r.publish(ctx, head, c.tip, pack); err != nil {
		return Result{}, err
	}
	if err := r.compact(); err != nil {
		// The push landed; a clone with many packs is only slower.
		r.opts.Log.Warn("clone not compacted", "dir", r.opts.Dir, "err", err)
	}
	return Result{Head: c.tip, Commits: c.commits}, nil
}

// refresh brings the branch head up to date and returns it.
func (r *Repo) refresh(ctx context.Context) (*headView, error) {
	if r.local {
		return r.localHead()
	}
	if !r.fresh {
		if err := r.fetch(ctx); err != nil {
			return nil, err
		}
	}
	r.fresh = false
	return r.trackedHead(r.repo)
}

func (r *Repo) publish(ctx context.Context, base *headView, tip plumbing.Hash, pack *builtPack) error {
	if r.local {
		if err := r.store(pack); err != nil {
			return err
		}
		return r.publishLocal(base, tip)
	}
	return r.push(ctx, base.Hash(), tip, pack)
}

// localHead is the branch head of a local repository.
func (r *Repo) localHead() (*headView, error) {
	ref, err := r.repo.Storer.Reference(r.branch)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return newHeadView(r.repo.Storer, plumbing.ZeroHash)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.branch, err)
	}
	return newHeadView(r.repo.Storer, ref.Hash())
}

// publishLocal moves the local branch from base to tip, failing with errMoved
// when something else moved it meanwhile, then brings the working tree along.
func (r *Repo) publishLocal(base *headView, tip plumbing.Hash) error {
	var old *plumbing.Reference
	if !base.Hash().IsZero() {
		old = plumbing.NewHashReference(r.branch, base.Hash())
	} else if _, err := r.repo.Storer.Reference(r.branch); err == nil {
		return fmt.Errorf("%w: %s was created in the local repository", errMoved, r.branch)
	}
	err := r.repo.Storer.CheckAndSetReference(plumbing.NewHashReference(r.branch, tip), old)
	if errors.Is(err, storage.ErrReferenceHasChanged) {
		return fmt.Errorf("%w: %s changed in the local repository", errMoved, r.branch)
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", r.branch, err)
	}
	return r.syncWorktree(base, tip)
}

func backoff(attempt int) time.Duration {
	d := backoffBase << (attempt - 2)
	if d > backoffMax || d <= 0 {
		d = backoffMax
	}
	return d/2 + rand.N(d/2+1) // jitter, so competing writers spread out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ViewAt is View at a revision of the branch: "" is its head; otherwise a commit hash (or a
// unique prefix), a tag or branch present in the clone, or an expression such as "main~1"
// (git rev-parse's syntax, as go-git resolves it).
func (r *Repo) ViewAt(ctx context.Context, rev string, fn func(ctx context.Context, head Head) error) error {
	if rev == "" {
		return r.View(ctx, fn)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repo == nil {
		return errors.New("view on a closed Repo")
	}
	r.fresh = false
	if _, err := r.refresh(ctx); err != nil {
		return err
	}
	h, err := r.repo.ResolveRevision(plumbing.Revision(rev))
	if err != nil && !r.local {
		// A remote's branch is tracked as origin/<branch>: "main~1" means that one.
		h, err = r.repo.ResolveRevision(plumbing.Revision(remoteName + "/" + rev))
	}
	if err != nil {
		return fmt.Errorf("%w: revision %q: %w", ErrInvalidOptions, rev, err)
	}
	head, err := newHeadView(r.repo.Storer, *h)
	if err != nil {
		return err
	}
	return fn(ctx, head)
}
