package resync

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

var (
	configMaps = discovery.Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}, Kind: "ConfigMap", Namespaced: true}
	secrets    = discovery.Resource{GVR: schema.GroupVersionResource{Version: "v1", Resource: "secrets"}, Kind: "Secret", Namespaced: true}
	widgets    = discovery.Resource{GVR: schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}, Kind: "Widget", Namespaced: true}
)

// cluster is a fake Objects: the objects of each resource, or the error its list fails with.
type cluster struct {
	objs   map[schema.GroupVersionResource][]*unstructured.Unstructured
	failed map[schema.GroupVersionResource]error
}

func (c cluster) Each(_ context.Context, res discovery.Resource, _ string, _ labels.Selector, fn func(snapshot.Object)) error {
	if err := c.failed[res.GVR]; err != nil {
		return err
	}
	for _, u := range c.objs[res.GVR] {
		fn(u)
	}
	return nil
}

func object(apiVersion, kind, name string, data map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": "shop"},
	}}
	for k, v := range data {
		u.Object[k] = v
	}
	return u
}

// deep is an object nested deeper than snapshot.MaxDepth: it cannot be rendered.
func deep(name string) *unstructured.Unstructured {
	var v any = "x"
	for range snapshot.MaxDepth + 1 {
		v = map[string]any{"a": v}
	}
	return object("v1", "ConfigMap", name, map[string]any{"data": v})
}

func target(url string, res ...discovery.Resource) *destination.Target {
	t := &destination.Target{
		Name:      types.NamespacedName{Namespace: "shop", Name: "git"},
		Repo:      gitrepo.Options{URL: url, Branch: "main"},
		Prune:     true,
		Committer: destination.DefaultCommitter,
	}
	for _, r := range res {
		t.Sources = append(t.Sources, destination.Source{Resource: r, Namespace: "shop"})
	}
	return t
}

var discard = slog.New(slog.DiscardHandler)

// TestBuild: what a resync wants in Git, and what it keeps although it cannot say.
func TestBuild(t *testing.T) {
	c := cluster{
		objs: map[schema.GroupVersionResource][]*unstructured.Unstructured{
			configMaps.GVR: {object("v1", "ConfigMap", "app", map[string]any{"data": map[string]any{"k": "v"}}), deep("deep")},
			secrets.GVR:    {object("v1", "Secret", "db", map[string]any{"data": map[string]any{"p": "cGFzcw=="}})},
		},
		failed: map[schema.GroupVersionResource]error{widgets.GVR: errors.New("forbidden")},
	}
	b := Build(context.Background(), discard, c, target("unused", configMaps, secrets, widgets), nil, Hashes)
	if _, ok := b.Tree["shop/configmaps/app.yaml"]; !ok || len(b.Tree) != 1 {
		t.Errorf("tree = %v, want only the ConfigMap app", keys(b.Tree))
	}
	if b.Objects != 1 || b.Types != 3 || b.Skipped != 1 || b.Broken() != 1 {
		t.Errorf("objects %d, types %d, skipped %d, broken %d; want 1, 3, 1 (the Secret), 1", b.Objects, b.Types, b.Skipped, b.Broken())
	}
	for _, k := range []snapshot.Key{
		{Namespace: "shop", Resource: widgets.GVR.GroupResource(), Name: "any"},     // its list failed
		{Namespace: "shop", Resource: configMaps.GVR.GroupResource(), Name: "deep"}, // not rendered
	} {
		if !b.Keep(k) {
			t.Errorf("Keep(%v) = false, want its file kept", k)
		}
	}
	if b.Keep(snapshot.Key{Namespace: "shop", Resource: configMaps.GVR.GroupResource(), Name: "gone"}) {
		t.Error("Keep(a deleted ConfigMap) = true, want its file pruned")
	}
	if b.Unrendered() == "" {
		t.Error("Unrendered is empty with an object that cannot be rendered")
	}
}

// TestSync: one reconcile commit brings the branch to the built state and leaves what must
// stay; a second sync of the same state makes no commit.
func TestSync(t *testing.T) {
	ctx := context.Background()
	remote := gitserver.NewBare(t, "main")
	remote.PushFiles(t, "main", map[string]string{
		"README.md":                       "ours, never touched\n",
		"shop/configmaps/gone.yaml":       "deleted from the cluster\n",
		"shop/widgets.example.com/w.yaml": "its list fails: kept\n",
	}, "foreign")
	tg := target(remote.URL, configMaps, widgets)
	c := cluster{
		objs:   map[schema.GroupVersionResource][]*unstructured.Unstructured{configMaps.GVR: {object("v1", "ConfigMap", "app", map[string]any{"data": map[string]any{"k": "v"}})}},
		failed: map[schema.GroupVersionResource]error{widgets.GVR: errors.New("forbidden")},
	}
	repo, err := gitrepo.Open(ctx, tg.Repo)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	out, err := Sync(ctx, discard, repo, c, tg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, u, d := out.Changes.Counts(); a != 1 || u != 0 || d != 1 {
		t.Errorf("changes = %d added, %d updated, %d deleted; want 1, 0, 1", a, u, d)
	}
	log := remote.Log(t, "main")
	if len(log) != 2 || log[0].Subject != "reconcile: 1 added, 0 updated, 1 deleted" || log[0].AuthorName != destination.DefaultCommitter.Name {
		t.Fatalf("log = %+v", log)
	}
	if out.Head.String() != log[0].Hash {
		t.Errorf("head = %s, want %s", out.Head, log[0].Hash)
	}
	files := remote.Files(t, "main")
	for _, p := range []string{"README.md", "shop/widgets.example.com/w.yaml", "shop/configmaps/app.yaml"} {
		if _, ok := files[p]; !ok {
			t.Errorf("%s missing: %v", p, keys(files))
		}
	}
	if _, ok := files["shop/configmaps/gone.yaml"]; ok {
		t.Error("the orphan was not pruned")
	}
	// The content went into the pack as it was rendered; the changeset held only its hash.
	want := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: shop\ndata:\n  k: v\n"
	if got := files["shop/configmaps/app.yaml"]; got != want {
		t.Errorf("app.yaml =\n%s\nwant\n%s", got, want)
	}

	again, err := Sync(ctx, discard, repo, c, tg, nil)
	if err != nil || len(again.Changes) != 0 || remote.Count(t, "main") != 2 {
		t.Errorf("second sync: %+v, %v, %d commits; want nothing to do", again, err, remote.Count(t, "main"))
	}
	dry, err := DryRun(ctx, discard, repo, cluster{failed: c.failed}, tg, nil)
	cs := dry.Changes
	if err != nil || len(cs) != 1 || cs[0].Path != "shop/configmaps/app.yaml" {
		t.Errorf("dry run of an empty cluster = %+v, %v; want app deleted", cs, err)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
