package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

const (
	restoreObjects    = 5000
	restoreNamespaces = 10
)

// BenchmarkRestore restores 5,000 ~1 KiB ConfigMaps from a snapshot's repository into a
// cluster that lost them, beside kubectl apply --server-side of the same folder, and diffs
// 5,000 unchanged objects beside snapshot --dry-run of the same selection.
func BenchmarkRestore(b *testing.B) {
	root := kubetest.Root()
	binary, kubectl := filepath.Join(root, "bin", "gitops-reverser"), filepath.Join(root, "bin", "kubectl")
	for _, f := range []string{binary, kubectl} {
		if _, err := os.Stat(f); err != nil {
			b.Fatalf("%s missing: run make build and hack/testbin.sh kubectl", f)
		}
	}
	createNamespaces(b, "restore-%02d", restoreNamespaces)
	createLabelled(b, "restore", "restore", restoreNamespaces, 0, restoreObjects)
	defer deleteLabelled(b, "restore", "restore", restoreNamespaces)
	kc := writeKubeconfig(b)
	repo := filepath.Join(b.TempDir(), "repo")
	selection := []string{"--kubeconfig", kc, "--repo", repo, "-A", "--resources", "configmaps", "-l", "bench=restore"}
	measure(b, binary, append([]string{"snapshot"}, selection...)...)
	if n := countFiles(b, repo); n != restoreObjects {
		b.Fatalf("snapshot wrote %d files, want %d", n, restoreObjects)
	}

	deleteLabelled(b, "restore", "restore", restoreNamespaces)
	base := measure(b, kubectl, "--kubeconfig", kc, "apply", "--server-side", "--field-manager", "bench", "-R", "-f", filepath.Join(repo))
	deleteLabelled(b, "restore", "restore", restoreNamespaces)
	ours := measure(b, binary, append([]string{"restore"}, selection...)...)
	dryRun := measure(b, binary, append([]string{"snapshot", "--dry-run"}, selection...)...)
	diff := measure(b, binary, append([]string{"diff"}, selection...)...)

	b.ReportMetric(ours.seconds/base.seconds, "restore-x-kubectl")
	b.ReportMetric(diff.seconds/dryRun.seconds, "diff-x-dry-run")
	fmt.Printf("\nRestore of %d ConfigMaps (~1 KiB, %d namespaces) into a cluster that lost them, and diff of them unchanged:\n\n", restoreObjects, restoreNamespaces)
	fmt.Printf("| run | seconds | peak RSS (MiB) | vs baseline |\n|---|---:|---:|---:|\n")
	fmt.Printf("| baseline: kubectl apply --server-side -R of the repository | %.2f | %.0f | 1.00x |\n", base.seconds, base.rssMiB)
	fmt.Printf("| gitops-reverser restore | %.2f | %.0f | %.2fx |\n", ours.seconds, ours.rssMiB, ours.seconds/base.seconds)
	fmt.Printf("| baseline: gitops-reverser snapshot --dry-run | %.2f | %.0f | 1.00x |\n", dryRun.seconds, dryRun.rssMiB)
	fmt.Printf("| gitops-reverser diff (nothing differs) | %.2f | %.0f | %.2fx |\n\n", diff.seconds, diff.rssMiB, diff.seconds/dryRun.seconds)
}
