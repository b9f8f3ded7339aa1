package writer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/commit"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/metrics"
	"github.com/gitops-reverser/gitops-reverser/internal/resync"
	"github.com/gitops-reverser/gitops-reverser/internal/status"
)

// Repo is what the writer needs of a Git repository: *gitrepo.Repo, or a fake in tests.
type Repo interface {
	gitrepo.Writer
	Close() error
}

// OpenRepo opens the repository of a destination.
type OpenRepo func(ctx context.Context, o gitrepo.Options) (Repo, error)

// openGit is the OpenRepo of a real repository.
func openGit(ctx context.Context, o gitrepo.Options) (Repo, error) {
	return gitrepo.Open(ctx, o)
}

// Options are the writer's collaborators and settings.
type Options struct {
	// Open opens the repository; nil is gitrepo.Open.
	Open OpenRepo
	// Log carries the destination as an attribute; nil discards.
	Log *slog.Logger
	// Objects are the live objects (informer caches) a resync builds the Tree from.
	Objects resync.Objects
	// Unavailable reports resources whose API is unavailable: their files are kept.
	Unavailable func(schema.GroupResource) bool
	// NextResync gives the time of the next periodic full resync after a time; nil disables it.
	NextResync func(time.Time) time.Time
	// EmailDomain makes an author email from a username that is not an email address.
	EmailDomain string
	// DefaultsNote says why Clean files keep the API server's defaults ("" when they do not),
	// for the status of a destination that writes Clean; nil for never. It is asked at every
	// status: the server's version may change.
	DefaultsNote func() string
	// CloneDir holds the destination's clone; "" keeps it in a temporary directory.
	CloneDir string
	// OnStatus is called after every attempt that changed what the status says.
	OnStatus func(status.Destination)
	Metrics  *metrics.Metrics
	// FlushTimeout bounds the final flush when the context ends.
	FlushTimeout time.Duration
}

// Writer owns one destination. Lock order: mu only; it is never held during Git operations.
type Writer struct {
	opts Options
	kick chan struct{}

	mu      sync.Mutex
	target  *destination.Target
	pending *commit.Pending
	// inflight are the changes of the flush being pushed: until the push ends, they, not the
	// known head, are what a new event is compared with.
	inflight map[string]commit.Event
	// resyncing is set while a resync reads the caches and pushes: no event is dropped then,
	// since its outcome is not known until the push ends.
	resyncing    bool
	known        diff.Current // files under baseFolder at knownHead
	knownHead    plumbing.Hash
	resyncWanted bool
	status       status.Destination
	unrendered   string // the last resync's Built.Unrendered, reported until a resync clears it
	// requestSeen is the last requestedAt annotation value seen; requestPending the one the
	// next resync handles and echoes on the status ("" when none).
	requestSeen, requestPending string
}

// New makes a writer for t; Start runs it. The owner asks for the first resync (Resync) once
// the caches the writer reads have synced, so it never mistakes an empty cache for deletions.
func New(t *destination.Target, opts Options) *Writer {
	if opts.FlushTimeout == 0 {
		opts.FlushTimeout = 30 * time.Second
	}
	if opts.Open == nil {
		opts.Open = openGit
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Writer{opts: opts, target: t, pending: commit.NewPending(), kick: make(chan struct{}, 1),
		requestSeen: t.RequestedAt, requestPending: t.RequestedAt}
}

// Target is the destination the writer currently serves.
func (w *Writer) Target() *destination.Target {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.target
}

// SetTarget replaces the target: new sources (the owner follows it with Resync once the caches
// of the new sources have synced: that backfills new objects and removes files no rule wants
// any more), suspend, or a new reconcile request, which asks for a resync at once. Resuming
// asks for a resync too, after the changes that waited are committed by their authors.
func (w *Writer) SetTarget(t *destination.Target) {
	w.mu.Lock()
	was := w.target.Suspend
	w.target = t
	wake := was != t.Suspend
	if was && !t.Suspend {
		w.resyncWanted = true
	}
	if t.RequestedAt != "" && t.RequestedAt != w.requestSeen {
		w.requestSeen, w.requestPending = t.RequestedAt, t.RequestedAt
		w.resyncWanted, wake = true, true
	}
	w.mu.Unlock()
	if wake {
		w.poke()
	}
}

// suspended reports whether commits and pushes are suspended.
func (w *Writer) suspended() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.target.Suspend
}

// Resync asks for a full resync soon.
func (w *Writer) Resync() {
	w.mu.Lock()
	w.resyncWanted = true
	w.mu.Unlock()
	w.poke()
}

// Enqueue records a change. A change that leaves the file as the writer already expects it
// (pending, being pushed, or at the head) is dropped, so a controller's status write or a
// no-op update never takes a pending change from the user who made it.
func (w *Writer) Enqueue(ev commit.Event) {
	w.mu.Lock()
	if w.unchangedLocked(ev) {
		w.mu.Unlock()
		return
	}
	w.pending.Add(ev, time.Now())
	w.mu.Unlock()
	w.poke()
}

// unchangedLocked reports whether ev leaves its file as it will be once everything pending and
// in flight is pushed.
func (w *Writer) unchangedLocked(ev commit.Event) bool {
	if prev, ok := w.pending.Get(ev.Path); ok {
		return commit.SameFile(prev, ev)
	}
	if prev, ok := w.inflight[ev.Path]; ok {
		return commit.SameFile(prev, ev)
	}
	if w.known == nil || w.resyncing {
		return false
	}
	h, exists := w.known[ev.Path]
	if ev.Content == nil {
		return !exists
	}
	return exists && h == diff.BlobHash(ev.Content)
}

func (w *Writer) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Start runs until ctx ends, then flushes what is pending and returns.
func (w *Writer) Start(ctx context.Context) error {
	var (
		repo     Repo
		failures int
		retryAt  time.Time
		resyncAt = w.nextResync(time.Now())
	)
	defer func() {
		if repo != nil {
			repo.Close()
		}
	}()
	for {
		if w.suspended() {
			// Nothing is committed or pushed, not even at the end: changes wait in pending,
			// and resuming commits them and resyncs.
			w.setStatus(func(s *status.Destination) {
				s.Ready, s.Reason, s.Message = false, v1alpha1.ReasonSuspended, "commits and pushes are suspended (spec.suspend); changes wait"
			})
			select {
			case <-ctx.Done():
				return nil
			case <-w.kick:
			}
			continue
		}
		now := time.Now()
		if !now.Before(retryAt) {
			var err error
			if repo == nil {
				repo, err = w.open(ctx)
			}
			if err == nil {
				if !resyncAt.IsZero() && !now.Before(resyncAt) {
					w.Resync()
					resyncAt = w.nextResync(now)
				}
				err = w.step(ctx, repo, false)
			}
			if err != nil && ctx.Err() == nil {
				failures++
				retryAt = time.Now().Add(backoff(failures))
				w.fail(err)
			} else if err == nil {
				failures = 0
				retryAt = time.Time{}
			}
		}
		wait := w.nextWake(retryAt, resyncAt)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return w.final(repo)
		case <-w.kick:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// final flushes pending changes with a fresh, bounded context after ctx ended (SIGTERM).
func (w *Writer) final(repo Repo) error {
	w.mu.Lock()
	n := w.pending.Len()
	w.mu.Unlock()
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), w.opts.FlushTimeout)
	defer cancel()
	err := w.finalFlush(ctx, repo)
	if err != nil {
		w.fail(err) // the status says what the next start has to push
		return fmt.Errorf("final flush of %s: %w", w.Target(), err)
	}
	return nil
}

func (w *Writer) finalFlush(ctx context.Context, repo Repo) error {
	if repo == nil {
		var err error
		if repo, err = w.open(ctx); err != nil {
			return err
		}
		defer repo.Close()
	}
	return w.flush(ctx, repo, true)
}

func (w *Writer) nextWake(retryAt, resyncAt time.Time) time.Duration {
	w.mu.Lock()
	t := w.pending.Next(w.target.CommitWindow)
	w.mu.Unlock()
	if !resyncAt.IsZero() && (t.IsZero() || resyncAt.Before(t)) {
		t = resyncAt
	}
	if !retryAt.IsZero() {
		// After a failure the next attempt is when the backoff ends: never before, and not
		// later either, as a failed resync with nothing pending would otherwise wait for the
		// next periodic one.
		t = retryAt
	}
	if t.IsZero() {
		return time.Hour
	}
	return max(time.Until(t), 0)
}

// nextResync is the next periodic resync after now; zero when there is none.
func (w *Writer) nextResync(now time.Time) time.Time {
	if w.opts.NextResync == nil {
		return time.Time{}
	}
	return w.opts.NextResync(now)
}

// backoff is capped exponential with jitter: 1s, 2s, 4s, … 5m.
func backoff(failures int) time.Duration {
	d := time.Second << min(failures-1, 9)
	d = min(d, 5*time.Minute)
	return d/2 + rand.N(d/2+1)
}

func (w *Writer) open(ctx context.Context) (Repo, error) {
	t := w.Target()
	opts := t.Repo
	opts.Dir = w.opts.CloneDir
	opts.Log = w.opts.Log
	repo, err := w.opts.Open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", opts.URL, err)
	}
	return repo, nil
}

// step does what is due: a resync when wanted (after flushing every pending change, so users'
// changes keep their authors), else the batches whose window closed.
func (w *Writer) step(ctx context.Context, repo Repo, all bool) error {
	w.mu.Lock()
	resyncNow := w.resyncWanted
	w.mu.Unlock()
	if err := w.flush(ctx, repo, all || resyncNow); err != nil {
		return err
	}
	if resyncNow {
		return w.resync(ctx, repo)
	}
	return nil
}

// fail records a failed attempt on the status.
func (w *Writer) fail(err error) {
	failed := status.Failed(err)
	w.opts.Log.Warn("destination failed, retrying with backoff", "reason", failed.Reason, "err", err)
	w.setStatus(func(s *status.Destination) {
		s.Ready, s.Reason, s.Message = false, failed.Reason, failed.Message
	})
}

func (w *Writer) setStatus(f func(*status.Destination)) {
	w.mu.Lock()
	before := w.status
	f(&w.status)
	after := w.status
	w.mu.Unlock()
	if before != after && w.opts.OnStatus != nil {
		w.opts.OnStatus(after)
	}
}
