package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// fetchSpec maps the remote branch to its remote-tracking ref. It forces, so
// a rewritten remote branch is followed; the local side is only a cache.
func (r *Repo) fetchSpec() config.RefSpec {
	return config.RefSpec(fmt.Sprintf("+%s:%s", r.branch, r.tracking))
}

// fetch brings the remote branch into the clone. A remote without the branch
// (or with no refs at all) is not an error: the tracking ref is removed.
func (r *Repo) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.opts.Timeout)
	defer cancel()
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: remoteName,
		RemoteURL:  r.url,
		RefSpecs:   []config.RefSpec{r.fetchSpec()},
		Auth:       r.auth,
		CABundle:   r.opts.Auth.CABundle,
		Tags:       git.NoTags,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, transport.ErrEmptyRemoteRepository), errors.Is(err, git.NoMatchingRefSpecError{}):
		if err := r.repo.Storer.RemoveReference(r.tracking); err != nil {
			return fmt.Errorf("forget %s: %w", r.tracking, err)
		}
		return nil
	}
	return r.netError("fetch", err)
}

// push sends the objects and moves the remote branch from base to tip, never
// forcing: a remote branch that is not at base any more gives errMoved.
func (r *Repo) push(ctx context.Context, base, tip plumbing.Hash, pack *builtPack) (err error) {
	// A large pack may take longer than the timeout to send: a push is given up only when it
	// stops making progress (see progressReader). A push to a local remote takes milliseconds
	// and is not stopped by the caller: go-git stops git with SIGKILL, and a git-receive-pack
	// killed while it updates the branch leaves the branch locked, so that every later push
	// fails to update the ref. Only its own timeout (a hook that hangs) stops it.
	if r.endpoint.Protocol == "file" {
		ctx = context.WithoutCancel(ctx)
	}
	ctx, extend, cancel := idleContext(ctx, r.opts.Timeout)
	defer cancel()
	defer func() {
		if err != nil && errors.Is(context.Cause(ctx), errNoProgress) {
			err = fmt.Errorf("%w: %w", errNoProgress, err)
		}
	}()
	sess, err := r.receivePackSession()
	if err != nil {
		return r.netError("push", err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return r.netError("push", err)
	}
	current, err := advertisedHash(adv, r.branch)
	if err != nil {
		return r.netError("push", err)
	}
	if current != base {
		return fmt.Errorf("%w: %s is at %s, commits were built on %s", errMoved, r.branch, short(current), short(base))
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	req.Commands = []*packp.Command{{Name: r.branch, Old: base, New: tip}}
	data, err := pack.data.open()
	if err != nil {
		return err
	}
	defer data.Close()
	body := &progressReader{r: data, size: int64(pack.size), idle: r.opts.Timeout, extend: extend, sent: make(chan struct{})}
	req.Packfile = io.NopCloser(body)
	sendCtx := ctx
	if r.endpoint.Protocol == "file" {
		// Timed out while it writes the pack to git-receive-pack, go-git kills that process and
		// waits for its index-pack child, which reads the same pipe and so waits for the rest of
		// the pack: forever (go-git/go-git#614). A local pack is sent whole, then cancelled.
		var stop context.CancelFunc
		sendCtx, stop = cancelAfter(ctx, body.sent)
		defer stop()
	}
	status, err := sess.ReceivePack(sendCtx, req)
	failed := err != nil || status != nil && status.Error() != nil
	if failed && ctx.Err() != nil { // not a rejection: git's processes were stopped
		return r.netError("push", ctx.Err())
	}
	if status != nil && status.Error() != nil {
		return r.pushRejected(status.Error())
	}
	if err != nil {
		return r.netError("push", err)
	}
	if err := r.store(pack); err != nil {
		return fmt.Errorf("pushed, but %w", err)
	}
	return r.recordPushed(tip)
}

func (r *Repo) receivePackSession() (transport.ReceivePackSession, error) {
	cl, err := client.NewClient(r.endpoint)
	if err != nil {
		return nil, err
	}
	return cl.NewReceivePackSession(r.endpoint, r.auth)
}

// advertisedHash is where the remote says ref is; zero when it has no such ref.
func advertisedHash(adv *packp.AdvRefs, ref plumbing.ReferenceName) (plumbing.Hash, error) {
	refs, err := adv.AllReferences()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	got, err := refs.Reference(ref)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return got.Hash(), nil
}

// movedStatuses are the receive-pack answers that mean another writer got
// there first.
var movedStatuses = []string{
	"fetch first", "non-fast-forward", "stale info", "failed to lock",
	"cannot lock ref", "failed to update ref", "reference already exists", "but expected",
}

func (r *Repo) pushRejected(err error) error {
	msg := err.Error()
	for _, s := range movedStatuses {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%w: %w", errMoved, r.redact(err))
		}
	}
	return fmt.Errorf("push %s: %w: %w", r.url, ErrRejected, r.redact(err))
}

// recordPushed moves the tracking ref and the clone's own branch to what the
// remote now has, so the clone reads like the remote without another fetch.
func (r *Repo) recordPushed(tip plumbing.Hash) error {
	for _, name := range []plumbing.ReferenceName{r.tracking, r.branch} {
		if err := r.repo.Storer.SetReference(plumbing.NewHashReference(name, tip)); err != nil {
			return fmt.Errorf("pushed, but record %s: %w", name, err)
		}
	}
	return nil
}

// netError names the operation and the remote, classifies err and hides
// credentials.
func (r *Repo) netError(op string, err error) error {
	return r.redact(fmt.Errorf("%s %s: %w", op, r.url, classify(err)))
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "nothing (no branch)"
	}
	return h.String()[:12]
}

// errNoProgress ends a network operation that made no progress for its timeout.
var errNoProgress = fmt.Errorf("no progress within the timeout: %w", context.DeadlineExceeded)

// idleContext is ctx, cancelled with errNoProgress once the time given to the last call of
// extend (idle at first) passes without another call.
func idleContext(ctx context.Context, idle time.Duration) (context.Context, func(time.Duration), context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(idle, func() { cancel(errNoProgress) })
	return ctx, func(d time.Duration) { timer.Reset(d) }, func() { timer.Stop(); cancel(context.Canceled) }
}

// cancelAfter is a context that ends with ctx, but not before done is closed; stop releases it.
func cancelAfter(ctx context.Context, done <-chan struct{}) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stopAfter := context.AfterFunc(ctx, func() {
		select {
		case <-done:
			cancel(context.Cause(ctx))
		case <-out.Done(): // stopped
		}
	})
	return out, func() { stopAfter(); cancel(context.Canceled) }
}

// minPushRate is the slowest upload a push is allowed once its pack is handed over: the HTTP
// transport reads the whole pack before sending it, and the server checks it after.
const minPushRate = 256 << 10 // bytes per second

// progressReader extends the push's time on every read of its pack, and once the whole pack
// is read, by the time it may take to send and check at minPushRate; sent is closed then.
type progressReader struct {
	r      io.Reader
	size   int64 // of the pack
	idle   time.Duration
	extend func(time.Duration)
	sent   chan struct{}
	once   sync.Once
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	switch {
	case errors.Is(err, io.EOF):
		p.extend(p.idle + time.Duration(p.size)*time.Second/minPushRate)
		p.once.Do(func() { close(p.sent) })
	case n > 0:
		p.extend(p.idle)
	}
	return n, err
}
