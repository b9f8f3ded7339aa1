// Package resync owns the full resync of a destination: build its desired Tree from the objects
// its sources select, diff it with the branch head and make one `reconcile:` commit. The
// controller's writers run it periodically from the informer caches; the snapshot command
// (internal/oneshot) runs it once from paged lists.
package resync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// Objects gives the live objects of a resource: the API (paged lists) or an informer cache.
type Objects interface {
	// Each calls fn for every object of res in namespace ("" = all namespaces) that matches
	// selector (nil = all). An error means the resource could not be listed completely.
	Each(ctx context.Context, res discovery.Resource, namespace string, selector labels.Selector, fn func(snapshot.Object)) error
}

// Built is a destination's desired state, and what must be kept although it is not in it.
type Built struct {
	Tree snapshot.Tree
	// Encrypted are the files of Tree that are SOPS-encrypted: path -> the rendered object.
	Encrypted map[string]destination.File
	Objects   int
	Types     int
	// Skipped counts objects deliberately not written (Secrets without encryption).
	Skipped int
	// Failed are resources whose list failed: their files are kept.
	Failed map[schema.GroupResource]error
	// broken are objects that could not be rendered, by FileKey: their files are kept.
	broken map[snapshot.Key]bool
	// firstBroken says why the first of them was not rendered.
	firstBroken string
	// unavailable reports resources whose API is temporarily unavailable: their files are kept.
	unavailable func(schema.GroupResource) bool
}

// Keep reports whether a file that is not desired must stay anyway.
func (b *Built) Keep(k snapshot.Key) bool {
	if _, ok := b.Failed[k.Resource]; ok {
		return true
	}
	if b.unavailable != nil && b.unavailable(k.Resource) {
		return true
	}
	return b.broken[k]
}

// Broken is the number of objects that could not be rendered.
func (b *Built) Broken() int { return len(b.broken) }

// Unrendered is the status message for objects that could not be rendered (their files
// kept), "" when every object was.
func (b *Built) Unrendered() string {
	if len(b.broken) == 0 {
		return ""
	}
	return fmt.Sprintf("%d objects cannot be written, their files are kept; %s", len(b.broken), b.firstBroken)
}

// listConcurrency bounds the lists in flight against the API server.
const listConcurrency = 4

// Build collects the desired Tree of t from objs. unavailable may be nil. Lists that fail and
// objects that cannot be rendered are logged to log and kept (Built.Keep).
func Build(ctx context.Context, log *slog.Logger, objs Objects, t *destination.Target, unavailable func(schema.GroupResource) bool) *Built {
	b := &Built{
		Tree:        snapshot.Tree{},
		Encrypted:   map[string]destination.File{},
		Failed:      map[schema.GroupResource]error{},
		broken:      map[snapshot.Key]bool{},
		unavailable: unavailable,
	}
	var (
		mu    sync.Mutex // guards b
		wg    sync.WaitGroup
		sem   = make(chan struct{}, listConcurrency)
		types = map[schema.GroupResource]bool{}
	)
	for _, src := range t.Sources {
		types[src.Resource.GVR.GroupResource()] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			err := objs.Each(ctx, src.Resource, src.Namespace, src.Selector, func(obj snapshot.Object) {
				if !src.Accepts(obj) {
					return
				}
				f, err := t.File(src.Resource, obj)
				mu.Lock()
				defer mu.Unlock()
				b.add(log, src.Resource, obj, f, err)
			})
			if err != nil {
				log.Warn("list failed, keeping its files", "resource", src.Resource.GVR.String(), "namespace", src.Namespace, "err", err)
				mu.Lock()
				b.Failed[src.Resource.GVR.GroupResource()] = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.Types = len(types)
	return b
}

func (b *Built) add(log *slog.Logger, res discovery.Resource, obj snapshot.Object, f destination.File, err error) {
	switch {
	case errors.Is(err, destination.ErrSkipped):
		b.Skipped++
	case err != nil:
		log.Error("object not rendered, keeping its file", "path", f.Path, "err", err)
		b.broken[destination.Key(res, obj).FileKey()] = true
		if b.firstBroken == "" {
			b.firstBroken = f.Path + ": " + err.Error()
		}
	default:
		if _, dup := b.Tree[f.Path]; !dup {
			b.Objects++
		}
		b.Tree[f.Path] = f.Content
		if f.Plain != nil {
			b.Encrypted[f.Path] = f
		}
	}
}
