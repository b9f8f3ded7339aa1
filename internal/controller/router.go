package controller

import (
	"errors"
	"log/slog"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/commit"
	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/metrics"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/webhook"
	"github.com/gitops-reverser/gitops-reverser/internal/writer"
)

// router hands each watch event to the writers of the destinations that take it: it renders
// the object once, finds its author, and enqueues the change. It runs on the informers'
// goroutines, so what can be slow (encrypting a Secret) goes to its queue.
type router struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	// authors holds who made recent writes, as the admission webhook saw them.
	authors *webhook.Cache
	routes  atomic.Pointer[routes]
	slow    *slowQueue
	// defaulter renders Clean files of objects the caches keep whole (ServiceAccounts).
	defaulter *defaulting.Defaulter
}

func newRouter(log *slog.Logger, m *metrics.Metrics, authors *webhook.Cache, d *defaulting.Defaulter) *router {
	r := &router{log: log, metrics: m, authors: authors, slow: newSlowQueue(), defaulter: d}
	r.routes.Store(&routes{})
	return r
}

// start runs the slow queue's workers; the returned stop hands every queued event to its writer,
// then joins them.
func (r *router) start() (stop func()) {
	return r.slow.start(slowWorkers, r.deliver)
}

// slowWorkers bound how many Secrets are encrypted at once.
const slowWorkers = 2

// routes maps a resource to the writers whose sources take it. It is rebuilt on every change
// of writers or targets and swapped atomically, so events never wait on a lock.
type routes map[schema.GroupVersionResource][]route

type route struct {
	w       *writer.Writer
	target  *destination.Target
	sources []destination.Source // the target's sources of this resource
}

// setRoutes routes events to ws from now on.
func (r *router) setRoutes(ws []*writer.Writer) {
	rs := routes{}
	for _, w := range ws {
		t := w.Target()
		by := map[schema.GroupVersionResource][]destination.Source{}
		for _, s := range t.Sources {
			by[s.Resource.GVR] = append(by[s.Resource.GVR], s)
		}
		for gvr, srcs := range by {
			rs[gvr] = append(rs[gvr], route{w: w, target: t, sources: srcs})
		}
	}
	r.routes.Store(&rs)
}

// OnEvent implements discovery.Handler: it renders the object once (a delete needs no file),
// finds its author and hands the change to every destination that takes it.
func (r *router) OnEvent(res discovery.Resource, op change.Op, obj snapshot.Object) {
	r.metrics.Event(op)
	rts := (*r.routes.Load())[res.GVR]
	if len(rts) == 0 {
		return
	}
	var (
		author    string
		rendering *snapshot.Rendering
	)
	if op == change.Delete {
		// A delete writes no file, and counts for whoever asked for it: nothing to render.
		author = r.authors.Author(res, op, obj, nil)
	} else {
		// Rendered once for every destination and for the author's hash. An object that cannot
		// be rendered is still deleted where no source takes it any more; its other changes wait
		// for a resync (which keeps its file).
		rendering = snapshot.NewRenderingWith(obj, r.defaulter)
		full, err := rendering.Plain(snapshot.Full) // the author's hash is of the Full output, whatever the destinations write
		if err != nil {
			r.log.Error("object not rendered", "resource", res.GVR.String(), "namespace", obj.GetNamespace(), "name", obj.GetName(), "err", err)
			rendering = nil
		} else {
			author = r.authors.Author(res, op, obj, full)
		}
	}
	for _, rt := range rts {
		d := delivery{route: rt, op: op, obj: obj, rendering: rendering, author: author}
		if rt.target.Encrypter != nil && snapshot.IsSecret(obj) {
			// Every event of an encrypted file goes through the queue, deletes too, so that
			// the events of one path reach the writer in order.
			r.slow.add(slowKey{w: rt.w, path: snapshot.Path(rt.target.BaseFolder, destination.Key(rt.sources[0].Resource, obj))}, d)
			continue
		}
		r.deliver(d)
	}
}

// delivery is one event for one destination.
type delivery struct {
	route     route
	op        change.Op
	obj       snapshot.Object
	rendering *snapshot.Rendering // nil for a delete, or an object that cannot be rendered
	author    string
}

// deliver renders the file of one delivery (encrypting a Secret) and enqueues it.
func (r *router) deliver(d delivery) {
	ev, ok := r.eventFor(d)
	if ok {
		ev.Author = d.author
		d.route.w.Enqueue(ev)
	}
}

// eventFor is the change one event makes to one destination. An object that no source takes
// any more (a label no longer matches) is deleted from it; the writer drops deletes of files
// that are not there.
func (r *router) eventFor(d delivery) (commit.Event, bool) {
	rt := d.route
	var src *destination.Source
	for i := range rt.sources {
		if rt.sources[i].Accepts(d.obj) {
			src = &rt.sources[i]
			break
		}
	}
	res := rt.sources[0].Resource
	if src != nil {
		if src.Excludes(d.author) {
			return commit.Event{}, false // the next resync writes it, with no author
		}
		res = src.Resource
	}
	if d.op == change.Delete || src == nil {
		return commit.Event{Path: snapshot.Path(rt.target.BaseFolder, destination.Key(res, d.obj))}, true
	}
	if d.rendering == nil {
		return commit.Event{}, false
	}
	f, err := rt.target.FileOf(res, d.rendering)
	switch {
	case errors.Is(err, destination.ErrSkipped):
		return commit.Event{}, false
	case err != nil:
		r.log.Error("object not rendered", "destination", rt.target.String(), "path", f.Path, "err", err)
		return commit.Event{}, false
	default:
		return commit.Event{Path: f.Path, Content: f.Content, Plain: f.Plain}, true
	}
}
