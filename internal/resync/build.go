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
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/go-git/go-git/v5/plumbing"
)

// Objects gives the live objects of a resource: the API (paged lists) or an informer cache.
type Objects interface {
	// Each calls fn for every object of res in namespace ("" = all namespaces) that matches
	// selector (nil = all). An error means the resource could not be listed completely.
	Each(ctx context.Context, res discovery.Resource, namespace string, selector labels.Selector, fn func(snapshot.Object)) error
}

// Keeper is what Build keeps of each rendered file: its blob hash, having stored or compared
// its content as the caller needs. Build calls it from one goroutine at a time. An error
// leaves the file as it is at the head, as for an object that cannot be rendered.
type Keeper func(f destination.File) (plumbing.Hash, error)

// Built is a destination's desired state, and what must be kept although it is not in it.
type Built struct {
	// Tree is every desired file's blob hash: a resync keeps no file's content.
	Tree    diff.Desired
	Objects int
	Types   int
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

// Build collects the desired Tree of t from objs, page by page: each file is rendered, given
// to keep and dropped. unavailable may be nil. Lists that fail and objects that cannot be
// rendered are logged to log and kept (Built.Keep).
func Build(ctx context.Context, log *slog.Logger, objs Objects, t *destination.Target, unavailable func(schema.GroupResource) bool, keep Keeper) *Built {
	b := &Built{
		Tree:        diff.Desired{},
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
				b.add(log, src.Resource, obj, f, err, keep)
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

func (b *Built) add(log *slog.Logger, res discovery.Resource, obj snapshot.Object, f destination.File, err error, keep Keeper) {
	var h plumbing.Hash
	if err == nil {
		h, err = keep(f)
	}
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
		b.Tree[f.Path] = h
	}
}

// Hashes keeps only each file's hash, for a comparison with no head (a repository that does
// not exist yet).
func Hashes(f destination.File) (plumbing.Hash, error) { return diff.BlobHash(f.Content), nil }

// Against keeps each file's hash as the branch at head would hold it: a Secret encrypted anew
// whose plaintext the head holds already keeps the head's blob, so an unchanged Secret is
// never re-encrypted. cur is head's files under the base folder. With store, a content the
// head lacks is stored in the pack of the commit being built (gitrepo.Head.Blob).
func Against(head gitrepo.Head, cur diff.Current, t *destination.Target, store bool) Keeper {
	return func(f destination.File) (plumbing.Hash, error) {
		h := diff.BlobHash(f.Content)
		old, exists := cur[f.Path]
		switch {
		case exists && old == h:
			return h, nil
		case exists && f.Plain != nil && CurrentAt(head, t, f):
			return old, nil
		case store:
			return head.Blob(f.Content)
		}
		return h, nil
	}
}
