package diff

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// golden compares got with testdata/<name>, or rewrites the file with -update. The file ends
// with one newline that is not part of got, so that editors keep it intact.
func golden(t *testing.T, name, got string) {
	t.Helper()
	got += "\n"
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestMessages(t *testing.T) {
	tests := []struct {
		name       string
		cs         Changeset
		baseFolder string
	}{
		{name: "empty"},
		{
			name: "one-create",
			cs:   Changeset{{Path: "default/configmaps/app.yaml", Op: Add}},
		},
		{
			name:       "one-delete-base-folder",
			cs:         Changeset{{Path: "clusters/prod/_cluster/namespaces/shop.yaml", Op: Delete}},
			baseFolder: "clusters/prod",
		},
		{
			name: "several-updates",
			cs: Changeset{
				{Path: "default/configmaps/a.yaml", Op: Update},
				{Path: "default/configmaps/b.yaml", Op: Update},
				{Path: "shop/deployments.apps/web.yaml", Op: Update},
			},
		},
		{
			name: "mixed-ops",
			cs: Changeset{
				{Path: "clusters/prod/_cluster/namespaces/shop.yaml", Op: Add},
				{Path: "clusters/prod/shop/configmaps/old.yaml", Op: Delete},
				{Path: "clusters/prod/shop/icecreamorders.shop.example.com/alices-order.yaml", Op: Update},
			},
			baseFolder: "clusters/prod",
		},
		{
			name: "foreign-paths",
			cs: Changeset{
				{Path: "clusters/prod/notes/readme.yaml", Op: Add},
				{Path: "elsewhere/default/configmaps/app.yaml", Op: Add},
			},
			baseFolder: "clusters/prod",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden(t, filepath.Join("messages", tt.name, "change.txt"), ChangeMessage(tt.cs, tt.baseFolder))
			golden(t, filepath.Join("messages", tt.name, "reconcile.txt"), ReconcileMessage(tt.cs, tt.baseFolder))
		})
	}
}
