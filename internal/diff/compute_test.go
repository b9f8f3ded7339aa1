package diff

import (
	"fmt"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// head builds a Current from path -> content, as the files at a branch head.
func head(files map[string]string) Current {
	c := Current{}
	for p, content := range files {
		c[p] = BlobHash([]byte(content))
	}
	return c
}

func tree(files map[string]string) Desired {
	t := Desired{}
	for p, content := range files {
		t[p] = BlobHash([]byte(content))
	}
	return t
}

func keepResource(folder string) func(snapshot.Key) bool {
	return func(k snapshot.Key) bool { return snapshot.ResourceFolder(k.Resource) == folder }
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name    string
		desired map[string]string
		current map[string]string
		opts    Options
		want    Changeset
	}{
		{
			name: "empty both",
			opts: Options{Prune: true},
		},
		{
			name:    "equal content is no change",
			desired: map[string]string{"default/configmaps/app.yaml": "a\n"},
			current: map[string]string{"default/configmaps/app.yaml": "a\n"},
			opts:    Options{Prune: true},
		},
		{
			name: "add update delete at root",
			desired: map[string]string{
				"default/configmaps/new.yaml":  "new\n",
				"default/configmaps/app.yaml":  "v2\n",
				"default/configmaps/same.yaml": "same\n",
			},
			current: map[string]string{
				"default/configmaps/app.yaml":   "v1\n",
				"default/configmaps/same.yaml":  "same\n",
				"default/configmaps/gone.yaml":  "old\n",
				"_cluster/namespaces/gone.yaml": "old\n",
			},
			opts: Options{Prune: true},
			want: Changeset{
				{Path: "_cluster/namespaces/gone.yaml", Op: change.Delete},
				{Path: "default/configmaps/app.yaml", Op: change.Update, Hash: BlobHash([]byte("v2\n"))},
				{Path: "default/configmaps/gone.yaml", Op: change.Delete},
				{Path: "default/configmaps/new.yaml", Op: change.Create, Hash: BlobHash([]byte("new\n"))},
			},
		},
		{
			name:    "prune false keeps orphans",
			desired: map[string]string{"default/configmaps/app.yaml": "v2\n"},
			current: map[string]string{
				"default/configmaps/app.yaml":  "v1\n",
				"default/configmaps/gone.yaml": "old\n",
			},
			opts: Options{Prune: false},
			want: Changeset{{Path: "default/configmaps/app.yaml", Op: change.Update, Hash: BlobHash([]byte("v2\n"))}},
		},
		{
			name: "foreign files at root are never deleted",
			current: map[string]string{
				"README.md":                   "hi\n",
				"kustomization.yaml":          "resources: []\n",
				"default/kustomization.yaml":  "resources: []\n",
				"default/configmaps/app.yml":  "x\n",
				"default/configmaps/a/b.yaml": "x\n",
				".github/workflows/ci.yaml":   "on: push\n",
				"Docs/guides/setup.yaml":      "x\n",
				"default/configmaps/.yaml":    "x\n",
			},
			opts: Options{Prune: true},
		},
		{
			name: "base folder: only orphans below it",
			desired: map[string]string{
				"clusters/prod/default/configmaps/app.yaml": "a\n",
			},
			current: map[string]string{
				"clusters/prod/default/configmaps/app.yaml":  "a\n",
				"clusters/prod/default/configmaps/gone.yaml": "old\n",
				"clusters/prod/_cluster/namespaces/old.yaml": "old\n",
				"clusters/prod/README.md":                    "hi\n",
				"clusters/prod/kustomization.yaml":           "resources: []\n",
				"clusters/staging/default/configmaps/x.yaml": "other base\n",
				"clusters/prod-eu/default/configmaps/x.yaml": "sibling prefix\n",
				"default/configmaps/app.yaml":                "outside\n",
			},
			opts: Options{BaseFolder: "clusters/prod", Prune: true},
			want: Changeset{
				{Path: "clusters/prod/_cluster/namespaces/old.yaml", Op: change.Delete},
				{Path: "clusters/prod/default/configmaps/gone.yaml", Op: change.Delete},
			},
		},
		{
			name:    "base folder with trailing slash",
			current: map[string]string{"clusters/prod/default/configmaps/gone.yaml": "old\n"},
			opts:    Options{BaseFolder: "clusters/prod/", Prune: true},
			want:    Changeset{{Path: "clusters/prod/default/configmaps/gone.yaml", Op: change.Delete}},
		},
		{
			name:    "desired paths outside base folder are still written",
			desired: map[string]string{"elsewhere/configmaps/app.yaml": "a\n"},
			opts:    Options{BaseFolder: "clusters/prod", Prune: true},
			want:    Changeset{{Path: "elsewhere/configmaps/app.yaml", Op: change.Create, Hash: BlobHash([]byte("a\n"))}},
		},
		{
			name: "keep protects resources that could not be listed",
			current: map[string]string{
				"shop/icecreamorders.shop.example.com/a.yaml": "a\n",
				"shop/configmaps/gone.yaml":                   "old\n",
			},
			opts: Options{Prune: true, Keep: keepResource("icecreamorders.shop.example.com")},
			want: Changeset{{Path: "shop/configmaps/gone.yaml", Op: change.Delete}},
		},
		{
			name:    "keep does not stop updates of desired files",
			desired: map[string]string{"shop/icecreamorders.shop.example.com/a.yaml": "v2\n"},
			current: map[string]string{"shop/icecreamorders.shop.example.com/a.yaml": "v1\n"},
			opts:    Options{Prune: true, Keep: func(snapshot.Key) bool { return true }},
			want: Changeset{
				{Path: "shop/icecreamorders.shop.example.com/a.yaml", Op: change.Update, Hash: BlobHash([]byte("v2\n"))},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tree(tt.desired), head(tt.current), tt.opts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Diff() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiffKeepSeesParsedKey(t *testing.T) {
	var seen []snapshot.Key
	opts := Options{BaseFolder: "clusters/prod", Prune: true, Keep: func(k snapshot.Key) bool {
		seen = append(seen, k)
		return true
	}}
	Diff(nil, head(map[string]string{"clusters/prod/shop/deployments.apps/web.yaml": "x\n"}), opts)
	want := []snapshot.Key{{Namespace: "shop", Resource: schema.GroupResource{Group: "apps", Resource: "deployments"}, Name: "web"}}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("Keep keys mismatch (-want +got):\n%s", diff)
	}
}

func TestBlobHashMatchesGit(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string // `printf ... | git hash-object --stdin`
	}{
		{name: "empty", content: "", want: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"},
		{name: "hello", content: "hello\n", want: "ce013625030ba8dba906f756967f9e9ca394464a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BlobHash([]byte(tt.content)); got != plumbing.NewHash(tt.want) {
				t.Errorf("BlobHash(%q) = %s, want %s", tt.content, got, tt.want)
			}
		})
	}
}

func TestCounts(t *testing.T) {
	cs := Changeset{{Op: change.Create}, {Op: change.Delete}, {Op: change.Update}, {Op: change.Delete}, {Op: change.Create}, {Op: change.Delete}}
	a, u, d := cs.Counts()
	if got, want := [3]int{a, u, d}, [3]int{2, 1, 3}; got != want {
		t.Errorf("Counts() = %v, want %v", got, want)
	}
}

// BenchmarkDiff is the steady state of a resync: 10,000 objects, 10 of them changed.
func BenchmarkDiff(b *testing.B) {
	const n, changed = 10_000, 10
	desired := Desired{}
	current := Current{}
	for i := range n {
		p := fmt.Sprintf("ns-%d/configmaps/cm-%d.yaml", i%50, i)
		content := []byte(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%d\ndata:\n  key: value-%d\n", i, i))
		desired[p] = BlobHash(content)
		current[p] = BlobHash(content)
	}
	for i := range changed {
		p := fmt.Sprintf("ns-%d/configmaps/cm-%d.yaml", i%50, i)
		desired[p] = BlobHash([]byte(fmt.Sprintf("changed %d\n", i)))
	}
	opts := Options{Prune: true}
	b.ReportAllocs()
	for b.Loop() {
		if cs := Diff(desired, current, opts); len(cs) != changed {
			b.Fatalf("got %d changes, want %d", len(cs), changed)
		}
	}
}
