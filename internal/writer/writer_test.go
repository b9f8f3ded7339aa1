package writer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/internal/commit"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/status"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

// These tests run a writer against a real file:// remote and a repository wrapper that can
// hold or fail pushes: no control plane. The end-to-end tests in cmd/gitops-reverser cover
// the same behaviour through the API server.

var configMaps = discovery.Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Kind: "ConfigMap", Namespaced: true}

func configMap(name, value string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "shop"},
		"data":     map[string]any{"v": value},
	}}
}

// objects is the writer's view of the cluster: a fixed set of ConfigMaps. hold, when set, is
// called in the middle of every listing (a resync reading the caches).
type objects struct {
	mu   sync.Mutex
	objs map[string]*unstructured.Unstructured
	hold func()
}

func (o *objects) set(objs ...*unstructured.Unstructured) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.objs = map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		o.objs[u.GetName()] = u
	}
}

func (o *objects) Each(_ context.Context, _ discovery.Resource, _ string, _ labels.Selector, fn func(snapshot.Object)) error {
	o.mu.Lock()
	list := make([]*unstructured.Unstructured, 0, len(o.objs))
	for _, u := range o.objs {
		list = append(list, u)
	}
	hold := o.hold
	o.mu.Unlock()
	for i, u := range list {
		if i == 0 && hold != nil {
			hold()
		}
		fn(u)
	}
	return nil
}

// repo wraps a real repository: before each Apply it asks gate (nil: go on), which may
// hold the push or fail it.
type repo struct {
	Repo
	gate    func() error
	applies atomic.Int32
}

func (r *repo) Apply(ctx context.Context, build gitrepo.BuildFunc) (gitrepo.Result, error) {
	r.applies.Add(1)
	if r.gate != nil {
		if err := r.gate(); err != nil {
			return gitrepo.Result{}, err
		}
	}
	return r.Repo.Apply(ctx, build)
}

type harness struct {
	t        *testing.T
	remote   *gitserver.Remote
	target   *destination.Target
	objects  *objects
	repo     *repo
	w        *Writer
	statuses chan status.Destination
	cancel   context.CancelFunc
	done     chan error
}

func newHarness(t *testing.T, window time.Duration, gate func() error) *harness {
	remote := gitserver.NewBare(t, "main")
	h := &harness{
		t:      t,
		remote: remote,
		target: &destination.Target{
			Name:         types.NamespacedName{Namespace: "shop", Name: "git"},
			Repo:         gitrepo.Options{URL: remote.URL, Branch: "main"},
			Prune:        true,
			Committer:    destination.DefaultCommitter,
			CommitWindow: window,
			Sources:      []destination.Source{{Resource: configMaps, Namespace: "shop"}},
		},
		objects:  &objects{},
		statuses: make(chan status.Destination, 100),
	}
	h.objects.set()
	h.w = New(h.target, Options{
		Objects: h.objects,
		Open: func(ctx context.Context, o gitrepo.Options) (Repo, error) {
			r, err := gitrepo.Open(ctx, o)
			if err != nil {
				return nil, err
			}
			h.repo = &repo{Repo: r, gate: gate}
			return h.repo, nil
		},
		OnStatus: func(s status.Destination) {
			select {
			case h.statuses <- s:
			default:
			}
		},
	})
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.w.Start(ctx) }()
	h.t.Cleanup(func() { _ = h.stop() })
}

// stop ends the writer (its final flush) and returns its error.
func (h *harness) stop() error {
	if h.cancel == nil {
		return nil
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		return err
	case <-time.After(time.Minute):
		h.t.Fatal("writer did not stop")
		return nil
	}
}

// event is the change of a ConfigMap by author, rendered as the router renders it.
func (h *harness) event(name, value, author string) commit.Event {
	h.t.Helper()
	f, err := h.target.File(configMaps, configMap(name, value))
	if err != nil {
		h.t.Fatal(err)
	}
	return commit.Event{Path: f.Path, Content: f.Content, Author: author}
}

// waitCommits waits until the remote holds n commits and returns them, newest first.
func (h *harness) waitCommits(n int) []gitserver.Commit {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		log := h.remote.Log(h.t, "main")
		if len(log) >= n {
			return log
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("remote has %d commits, want %d: %+v", len(log), n, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) file(name string) string {
	return h.remote.Files(h.t, "main")["shop/configmaps/"+name+".yaml"]
}

// TestCommitWindows: one commit per author and window, the author's name and e-mail on it and
// the Kubernetes-User trailer; with a window of 0, one commit per change.
func TestCommitWindows(t *testing.T) {
	h := newHarness(t, 300*time.Millisecond, nil)
	h.start()
	h.w.Enqueue(h.event("a", "1", "jane@acme.com"))
	h.w.Enqueue(h.event("b", "1", "jane@acme.com"))
	h.w.Enqueue(h.event("c", "1", "system:serviceaccount:team:bot"))
	log := h.waitCommits(2)
	time.Sleep(500 * time.Millisecond) // nothing more may come
	if log = h.remote.Log(t, "main"); len(log) != 2 {
		t.Fatalf("commits = %d, want 2: %+v", len(log), log)
	}
	byAuthor := map[string]gitserver.Commit{}
	for _, c := range log {
		byAuthor[c.AuthorName] = c
	}
	jane, bot := byAuthor["jane@acme.com"], byAuthor["system:serviceaccount:team:bot"]
	if jane.Subject != "[CREATE] 2 objects" || !strings.Contains(jane.Body, "Kubernetes-User: jane@acme.com") || jane.AuthorEmail != "jane@acme.com" {
		t.Errorf("jane's commit = %+v", jane)
	}
	if bot.Subject != "[CREATE] shop/configmaps/c" || bot.AuthorEmail != "system-serviceaccount-team-bot@cluster.local" {
		t.Errorf("bot's commit = %+v", bot)
	}

	h0 := newHarness(t, 0, nil)
	h0.start()
	h0.w.Enqueue(h0.event("a", "1", "jane@acme.com"))
	h0.w.Enqueue(h0.event("b", "1", "jane@acme.com"))
	if log := h0.waitCommits(2); log[0].Subject == log[1].Subject {
		t.Errorf("window 0: subjects %q and %q, want one commit per change", log[0].Subject, log[1].Subject)
	}
}

// TestCommitWindowCap: an author who never pauses for a window still gets a commit after ten
// windows, while still writing.
func TestCommitWindowCap(t *testing.T) {
	const window = 100 * time.Millisecond
	h := newHarness(t, window, nil)
	h.start()
	stop := time.Now().Add(25 * window)
	for i := 0; time.Now().Before(stop); i++ {
		h.w.Enqueue(h.event("busy", fmt.Sprint(i), "jane@acme.com"))
		time.Sleep(window / 4)
	}
	// The writes never paused for a window: without the cap nothing would be committed yet.
	if n := h.remote.Count(t, "main"); n < 1 {
		t.Fatalf("commits while the author kept writing = %d, want at least one (ten-window cap)", n)
	}
}

// TestChangedWhileInFlight: while a push is held, the same path changes: to the content being
// pushed (dropped, no second commit) and then to new content (committed after, by its author).
func TestChangedWhileInFlight(t *testing.T) {
	held, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	h := newHarness(t, 0, func() error {
		if first.CompareAndSwap(false, true) {
			close(held)
			<-release
		}
		return nil
	})
	h.start()
	h.w.Enqueue(h.event("a", "1", "jane@acme.com"))
	<-held
	h.w.Enqueue(h.event("a", "1", "bob@acme.com")) // the same file as in flight: not a change
	h.w.Enqueue(h.event("a", "2", "carol@acme.com"))
	close(release)
	log := h.waitCommits(2)
	time.Sleep(300 * time.Millisecond)
	if log = h.remote.Log(t, "main"); len(log) != 2 {
		t.Fatalf("commits = %+v, want jane's and carol's", log)
	}
	if log[0].AuthorName != "carol@acme.com" || log[1].AuthorName != "jane@acme.com" {
		t.Errorf("authors = %s, %s; want carol@acme.com, jane@acme.com", log[0].AuthorName, log[1].AuthorName)
	}
	if got := h.file("a"); !strings.Contains(got, "v: \"2\"") {
		t.Errorf("file = %q, want the last value", got)
	}
}

// TestPutBackAfterFailedPush: changes whose push failed are committed once the remote is
// back, with their authors; a newer change of a path made meanwhile wins over the put-back one.
func TestPutBackAfterFailedPush(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	failed := make(chan struct{}, 10)
	h := newHarness(t, 0, func() error {
		if fail.Load() {
			failed <- struct{}{}
			return fmt.Errorf("push: %w", gitrepo.ErrUnreachable)
		}
		return nil
	})
	h.start()
	h.w.Enqueue(h.event("a", "1", "jane@acme.com"))
	h.w.Enqueue(h.event("b", "1", "jane@acme.com"))
	<-failed
	s := <-h.statuses
	if s.Ready || s.Reason != "RemoteUnreachable" {
		t.Errorf("status after the failure = %+v, want RemoteUnreachable", s)
	}
	h.w.Enqueue(h.event("b", "2", "bob@acme.com")) // newer than the put-back change
	fail.Store(false)
	log := h.waitCommits(2)
	authors := map[string]string{}
	for _, c := range log {
		authors[c.Subject] = c.AuthorName
	}
	if authors["[CREATE] shop/configmaps/a"] != "jane@acme.com" || authors["[CREATE] shop/configmaps/b"] != "bob@acme.com" {
		t.Errorf("commits = %+v, want a by jane and b by bob", log)
	}
	if got := h.file("b"); !strings.Contains(got, "v: \"2\"") {
		t.Errorf("b = %q, want bob's value", got)
	}
}

// TestFinalFlush: changes still inside their window are pushed when the writer stops.
func TestFinalFlush(t *testing.T) {
	h := newHarness(t, time.Hour, nil)
	h.start()
	h.w.Enqueue(h.event("a", "1", "jane@acme.com"))
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	log := h.remote.Log(t, "main")
	if len(log) != 1 || log[0].AuthorName != "jane@acme.com" {
		t.Fatalf("after stop: %+v, want jane's commit", log)
	}
}

// TestFinalFlushFailure: a final flush that cannot push says so, on the status and in the error.
func TestFinalFlushFailure(t *testing.T) {
	h := newHarness(t, time.Hour, func() error { return fmt.Errorf("push: %w", gitrepo.ErrAuthentication) })
	h.start()
	h.w.Enqueue(h.event("a", "1", "jane@acme.com"))
	err := h.stop()
	if !errors.Is(err, gitrepo.ErrAuthentication) {
		t.Fatalf("stop = %v, want the authentication failure", err)
	}
	if s := h.w.status; s.Ready || s.Reason != "AuthenticationFailed" {
		t.Errorf("status = %+v", s)
	}
}

// TestResyncRacingEvents: a change made while a resync reads the caches is left to the
// pending change, so it is committed by its author, not by the resync's committer, and the
// older cache does not undo it.
func TestResyncRacingEvents(t *testing.T) {
	h := newHarness(t, 0, nil)
	h.objects.set(configMap("a", "1"), configMap("b", "1"))
	reading, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	h.objects.hold = func() {
		once.Do(func() {
			close(reading)
			<-release
		})
	}
	h.start()
	h.w.Resync()
	<-reading
	// While the resync reads the cache (which still says 1), alice sets a to 2.
	h.w.Enqueue(h.event("a", "2", "alice@acme.com"))
	close(release)
	log := h.waitCommits(2)
	time.Sleep(300 * time.Millisecond)
	log = h.remote.Log(t, "main")
	if len(log) != 2 {
		t.Fatalf("commits = %+v, want the resync's and alice's", log)
	}
	if log[1].Subject != "reconcile: 1 added, 0 updated, 0 deleted" || log[1].AuthorName != destination.DefaultCommitter.Name {
		t.Errorf("resync commit = %+v, want b added by the committer", log[1])
	}
	if log[0].Subject != "[CREATE] shop/configmaps/a" || log[0].AuthorName != "alice@acme.com" {
		t.Errorf("last commit = %+v, want a by alice", log[0])
	}
	if got := h.file("a"); !strings.Contains(got, "v: \"2\"") {
		t.Errorf("a = %q, want alice's value", got)
	}
}

// TestSuspendAndResume: a suspended destination commits and pushes nothing, not even when it
// stops, and says so; resuming commits the changes that waited, by their authors, then
// resyncs.
func TestSuspendAndResume(t *testing.T) {
	h := newHarness(t, 0, nil)
	h.target.Suspend = true
	h.objects.set(configMap("a", "1"), configMap("cached", "1"))
	h.start()
	h.w.Enqueue(h.event("a", "1", "jane@acme.com"))
	waitStatus(t, h, func(s status.Destination) bool { return s.Reason == "Suspended" && !s.Ready })
	h.w.Resync()
	time.Sleep(300 * time.Millisecond)
	if n := h.remote.Count(t, "main"); n != 0 || h.repo != nil && h.repo.applies.Load() != 0 {
		t.Fatalf("suspended: %d commits pushed", n)
	}
	resumed := *h.target
	resumed.Suspend = false
	h.w.SetTarget(&resumed)
	log := h.waitCommits(2)
	if log[1].Subject != "[CREATE] shop/configmaps/a" || log[1].AuthorName != "jane@acme.com" {
		t.Errorf("first commit after resuming = %+v, want jane's change", log[1])
	}
	if log[0].Subject != "reconcile: 1 added, 0 updated, 0 deleted" {
		t.Errorf("second commit after resuming = %+v, want the resync of what else changed", log[0])
	}
	waitStatus(t, h, func(s status.Destination) bool { return s.Ready })
}

// TestReconcileRequest: a new requestedAt value starts a full resync at once and is echoed
// once handled; the same value again does nothing.
func TestReconcileRequest(t *testing.T) {
	h := newHarness(t, 0, nil)
	h.objects.set(configMap("a", "1"))
	h.start()
	asked := *h.target
	asked.RequestedAt = "2026-12-04T10:00:00Z"
	h.w.SetTarget(&asked)
	waitStatus(t, h, func(s status.Destination) bool { return s.LastHandledReconcileAt == asked.RequestedAt && s.Ready })
	if log := h.remote.Log(t, "main"); len(log) != 1 || log[0].Subject != "reconcile: 1 added, 0 updated, 0 deleted" {
		t.Fatalf("log = %+v, want one resync", log)
	}
	applies := h.repo.applies.Load()
	again := asked
	h.w.SetTarget(&again)
	time.Sleep(300 * time.Millisecond)
	if got := h.repo.applies.Load(); got != applies {
		t.Errorf("the same request again made %d more Git transactions", got-applies)
	}
}

func waitStatus(t *testing.T, h *harness, ok func(status.Destination) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case s := <-h.statuses:
			if ok(s) {
				return
			}
		case <-deadline:
			t.Fatal("status never became as wanted")
		}
	}
}
