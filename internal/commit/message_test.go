package commit

import (
	"path/filepath"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/golden"
)

func TestMessages(t *testing.T) {
	tests := []struct {
		name       string
		cs         diff.Changeset
		baseFolder string
	}{
		{name: "empty"},
		{
			name: "one-create",
			cs:   diff.Changeset{{Path: "default/configmaps/app.yaml", Op: change.Create}},
		},
		{
			name:       "one-delete-base-folder",
			cs:         diff.Changeset{{Path: "clusters/prod/_cluster/namespaces/shop.yaml", Op: change.Delete}},
			baseFolder: "clusters/prod",
		},
		{
			name: "several-updates",
			cs: diff.Changeset{
				{Path: "default/configmaps/a.yaml", Op: change.Update},
				{Path: "default/configmaps/b.yaml", Op: change.Update},
				{Path: "shop/deployments.apps/web.yaml", Op: change.Update},
			},
		},
		{
			name: "mixed-ops",
			cs: diff.Changeset{
				{Path: "clusters/prod/_cluster/namespaces/shop.yaml", Op: change.Create},
				{Path: "clusters/prod/shop/configmaps/old.yaml", Op: change.Delete},
				{Path: "clusters/prod/shop/icecreamorders.shop.example.com/alices-order.yaml", Op: change.Update},
			},
			baseFolder: "clusters/prod",
		},
		{
			name: "foreign-paths",
			cs: diff.Changeset{
				{Path: "clusters/prod/notes/readme.yaml", Op: change.Create},
				{Path: "elsewhere/default/configmaps/app.yaml", Op: change.Create},
			},
			baseFolder: "clusters/prod",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			golden.Text(t, filepath.Join("messages", tt.name, "change.txt"), ChangeMessage(tt.cs, tt.baseFolder))
			golden.Text(t, filepath.Join("messages", tt.name, "reconcile.txt"), ReconcileMessage(tt.cs, tt.baseFolder))
		})
	}
}
