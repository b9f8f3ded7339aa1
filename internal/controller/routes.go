package controller

import (
	"errors"
	"log/slog"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/webhook"
	"github.com/gitops-reverser/gitops-reverser/internal/writer"
)

// routes maps a resource to the writers whose sources take it. It is rebuilt on every change
// of writers or targets and swapped atomically, so events never wait on a lock.
type routes map[schema.GroupVersionResource][]route

type route struct {
	w       *writer.Writer
	target  *destination.Target
	sources []destination.Source // the target's sources of this resource
}

func buildRoutes(writers map[types.NamespacedName]*running) *routes {
	rs := routes{}
	for _, r := range writers {
		t := r.w.Target()
		by := map[schema.GroupVersionResource][]destination.Source{}
		for _, s := range t.Sources {
			by[s.Resource.GVR] = append(by[s.Resource.GVR], s)
		}
		for gvr, srcs := range by {
			rs[gvr] = append(rs[gvr], route{w: r.w, target: t, sources: srcs})
		}
	}
	return &rs
}

// OnEvent implements discovery.Handler: it renders the object once (a delete needs no file),
// finds its author and hands the change to the writer of every destination that takes it.
func (mg *manager) OnEvent(res discovery.Resource, op discovery.Op, obj snapshot.Object) {
	mg.metrics.Events.WithLabelValues(op.String()).Inc()
	rts := (*mg.routes.Load())[res.GVR]
	if len(rts) == 0 {
		return
	}
	var (
		author string
		r      *snapshot.Rendering
	)
	if op == discovery.OpDelete {
		// A delete writes no file, and counts for whoever asked for it: nothing to render.
		author = mg.lookup(webhook.DeleteKey(res.GVR.Group, res.GVR.Resource, obj.GetNamespace(), obj.GetName()))
	} else {
		// Rendered once for every destination and for the author's hash. An object that cannot
		// be rendered is still deleted where no source takes it any more; its other changes wait
		// for a resync (which keeps its file).
		r = snapshot.NewRendering(obj)
		plain, err := r.Plain(snapshot.Full) // the author's hash is of the Full output, whatever the destinations write
		if err != nil {
			slog.Error("object not rendered", "resource", res.GVR.String(), "namespace", obj.GetNamespace(), "name", obj.GetName(), "err", err)
			r = nil
		} else {
			author = mg.author(res, op, obj, snapshot.Hash(plain))
		}
	}
	for _, rt := range rts {
		ev, ok := eventFor(rt, op, obj, r)
		if ok {
			ev.Author = author
			rt.w.Enqueue(ev)
		}
	}
}

// admissionOps maps watch events that write a file to the admission operations the webhook
// recorded.
var admissionOps = map[discovery.Op]string{
	discovery.OpAdd:    webhook.OpCreate,
	discovery.OpUpdate: webhook.OpUpdate,
}

// author is the username the webhook recorded for exactly this state of the object (for an
// update: also a write of spec.replicas through the scale subresource); "" when nobody matches
// (webhook down, a controller's write it did not see, a resync).
func (mg *manager) author(res discovery.Resource, op discovery.Op, obj snapshot.Object, hash string) string {
	k := webhook.Key{
		Group: res.GVR.Group, Resource: res.GVR.Resource,
		Namespace: obj.GetNamespace(), Name: obj.GetName(),
		Operation: admissionOps[op], Hash: hash,
	}
	if user := mg.lookup(k); user != "" || op != discovery.OpUpdate || !res.Scale {
		return user
	}
	replicas, ok := snapshot.Replicas(obj)
	if !ok {
		return ""
	}
	return mg.lookup(webhook.ScaleKey(k.Group, k.Resource, k.Namespace, k.Name, replicas))
}

// lookup is the username recorded for k, "" when none.
func (mg *manager) lookup(k webhook.Key) string {
	if mg.authors.Len() == 0 {
		return ""
	}
	user, _ := mg.authors.Lookup(k)
	return user
}

// eventFor is the change one event makes to one destination. An object that no source takes
// any more (a label no longer matches) is deleted from it; the writer drops deletes of files
// that are not there.
func eventFor(rt route, op discovery.Op, obj snapshot.Object, r *snapshot.Rendering) (writer.Event, bool) {
	var src *destination.Source
	for i := range rt.sources {
		if rt.sources[i].Accepts(obj) {
			src = &rt.sources[i]
			break
		}
	}
	res := rt.sources[0].Resource
	if src != nil {
		res = src.Resource
	}
	if op == discovery.OpDelete || src == nil {
		return writer.Event{Path: snapshot.Path(rt.target.BaseFolder, destination.Key(res, obj))}, true
	}
	if r == nil {
		return writer.Event{}, false
	}
	f, err := rt.target.FileOf(res, r)
	switch {
	case errors.Is(err, destination.ErrSkipped):
		return writer.Event{}, false
	case err != nil:
		slog.Error("object not rendered", "destination", rt.target.String(), "path", f.Path, "err", err)
		return writer.Event{}, false
	default:
		return writer.Event{Path: f.Path, Content: f.Content, Plain: f.Plain}, true
	}
}
