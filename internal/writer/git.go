package writer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/commit"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/resync"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/status"
)

// flush commits the batches that are due (all of them when all is set) and pushes.
func (w *Writer) flush(ctx context.Context, repo Repo, all bool) error {
	w.mu.Lock()
	t := w.target
	batches := w.pending.Take(time.Now(), t.CommitWindow, all)
	if len(batches) == 0 {
		w.mu.Unlock()
		return nil
	}
	w.inflight = map[string]commit.Event{}
	for _, b := range batches {
		b.Each(func(ev commit.Event) { w.inflight[ev.Path] = ev })
	}
	w.mu.Unlock()
	style := t.Style(w.opts.EmailDomain)
	err := w.apply(ctx, repo, "flush", func(head gitrepo.Head, cur diff.Current) ([]gitrepo.Commit, []diff.Changeset) {
		return style.Batches(batches, func(ev commit.Event) (diff.Change, bool) {
			return changeOf(ev, t, head, cur)
		})
	})
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.pending.Restore(batches)
	}
	w.inflight = nil
	return err
}

// changeOf compares one pending event with the head.
func changeOf(ev commit.Event, t *destination.Target, head gitrepo.Head, cur diff.Current) (diff.Change, bool) {
	h, exists := cur[ev.Path]
	if ev.Content == nil {
		if !exists {
			return diff.Change{}, false
		}
		return diff.Change{Path: ev.Path, Op: change.Delete}, true
	}
	sum := diff.BlobHash(ev.Content) // once per event: this runs for every pending change
	switch {
	case exists && h == sum:
		return diff.Change{}, false
	case ev.Plain != nil && exists &&
		resync.CurrentAt(head, t, destination.File{Path: ev.Path, Content: ev.Content, Plain: ev.Plain}):
		return diff.Change{}, false // the same Secret, encrypted anew: not a change
	case !exists:
		return diff.Change{Path: ev.Path, Op: change.Create, Hash: sum, Content: ev.Content}, true
	default:
		return diff.Change{Path: ev.Path, Op: change.Update, Hash: sum, Content: ev.Content}, true
	}
}

// resync rebuilds the Tree from the caches and commits what differs from the head.
func (w *Writer) resync(ctx context.Context, repo Repo) error {
	w.mu.Lock()
	t := w.target
	w.resyncWanted = false
	w.resyncing = true
	request := w.requestPending
	w.requestPending = ""
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.resyncing = false
		w.mu.Unlock()
		if request != "" { // handled, whatever the outcome: the status says which
			w.setStatus(func(s *status.Destination) { s.LastHandledReconcileAt = request })
		}
	}()
	start := time.Now()
	defer tightHeap()()
	var b *resync.Built
	err := w.apply(ctx, repo, "resync", func(head gitrepo.Head, cur diff.Current) ([]gitrepo.Commit, []diff.Changeset) {
		// Built against the head, so that only what it lacks is kept (in the push's pack).
		b = resync.Build(ctx, w.opts.Log, w.opts.Objects, t, w.opts.Unavailable, resync.Against(head, cur, t, true))
		w.opts.Log.Debug("resync tree built", "files", len(b.Tree), "took", time.Since(start).String())
		w.mu.Lock()
		w.unrendered = b.Unrendered() // before apply reports the status
		w.mu.Unlock()
		// A path changed since the caches were read is left to its pending change, which is
		// newer and knows its author.
		cs, commits := resync.Reconcile(head, cur, t, b, w.isPending)
		return commits, []diff.Changeset{cs}
	})
	if m := w.opts.Metrics; m != nil {
		m.ResyncDuration.WithLabelValues(t.String()).Observe(time.Since(start).Seconds())
	}
	if err != nil {
		w.mu.Lock()
		w.resyncWanted = true
		w.mu.Unlock()
		return err
	}
	// A resync builds the whole Tree and may push every file: hand that memory back now rather
	// than keep it resident until the heap grows again.
	failed := len(b.Failed)
	b = nil
	debug.FreeOSMemory()
	if failed > 0 {
		w.opts.Log.Info("resync kept files of resources not listed", "resources", failed)
	}
	return nil
}

func (w *Writer) isPending(path string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pending.Has(path)
}

// apply runs one Git transaction: compute commits against the head (refreshing the known files
// when someone else moved the branch), push, and record the new head.
func (w *Writer) apply(ctx context.Context, repo Repo, kind string, compute func(gitrepo.Head, diff.Current) ([]gitrepo.Commit, []diff.Changeset)) error {
	t := w.Target()
	var applied []diff.Changeset
	made := 0 // commits of the last attempt, counted as failed when the transaction fails
	start := time.Now()
	res, err := repo.Apply(ctx, func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		cur, err := w.currentFiles(head, t)
		if err != nil {
			return nil, err
		}
		commits, sets := compute(head, cur)
		applied, made = sets, len(commits)
		return commits, nil
	})
	dest := t.String()
	m := w.opts.Metrics
	if errors.Is(err, gitrepo.ErrNothingToCommit) {
		w.succeeded(nil, plumbing.ZeroHash, false)
		return nil
	}
	if err != nil {
		if m != nil {
			m.Pushes.WithLabelValues(dest, "error").Inc()
			m.Commits.WithLabelValues(dest, "error").Add(float64(made))
		}
		return fmt.Errorf("%s: %w", kind, err)
	}
	if m != nil {
		m.Pushes.WithLabelValues(dest, "success").Inc()
		m.Commits.WithLabelValues(dest, "success").Add(float64(res.Commits))
		m.PushDuration.WithLabelValues(dest).Observe(time.Since(start).Seconds())
		m.LastPushSuccess.WithLabelValues(dest).SetToCurrentTime()
	}
	w.opts.Log.Info("pushed", "kind", kind, "commits", res.Commits, "head", res.Head.String(), "attempts", res.Attempts)
	w.succeeded(applied, res.Head, true)
	return nil
}

// currentFiles is the head's files under baseFolder, read from Git only when the head is not
// the one this writer last wrote or read: steady-state cost does not grow with the repository.
func (w *Writer) currentFiles(head gitrepo.Head, t *destination.Target) (diff.Current, error) {
	w.mu.Lock()
	known, knownHead := w.known, w.knownHead
	w.mu.Unlock()
	if known != nil && knownHead == head.Hash() {
		return known, nil
	}
	cur, err := resync.Files(head, t.BaseFolder)
	if err != nil {
		return nil, err
	}
	if cur == nil {
		cur = diff.Current{}
	}
	w.mu.Lock()
	w.known, w.knownHead = cur, head.Hash()
	w.mu.Unlock()
	return cur, nil
}

// succeeded records the new head and the files it holds, and reports Ready. The known files
// were read for the parent of the pushed commits; the pushed changes are applied to them in
// place, so the cost follows the changes, not the repository.
func (w *Writer) succeeded(sets []diff.Changeset, head plumbing.Hash, pushed bool) {
	w.mu.Lock()
	if pushed && w.known != nil {
		for _, cs := range sets {
			for _, ch := range cs {
				if ch.Op == change.Delete {
					delete(w.known, ch.Path)
				} else {
					w.known[ch.Path] = ch.Hash
				}
			}
		}
		w.knownHead = head
	}
	files := len(w.known)
	lastHead := w.knownHead
	unrendered := w.unrendered
	note := ""
	if w.target.OutputMode() == snapshot.Clean && w.opts.DefaultsNote != nil {
		note = w.opts.DefaultsNote()
	}
	w.mu.Unlock()
	if m := w.opts.Metrics; m != nil {
		m.ObjectsTracked.WithLabelValues(w.Target().String()).Set(float64(files))
	}
	w.setStatus(func(s *status.Destination) {
		next := status.Synced(files, lastHead, pushed, unrendered).With(note)
		if !pushed {
			next.LastPush = s.LastPush
		}
		next.LastHandledReconcileAt = s.LastHandledReconcileAt
		*s = next
	})
}
