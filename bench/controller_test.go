package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// BenchmarkController measures the controller's start-up on the populated cluster (list, cache,
// first full resync and push of every object) and its memory with every object cached, beside
// the standalone snapshot of the same objects measured in the same run.
func BenchmarkController(b *testing.B) {
	binary := filepath.Join(kubetest.Root(), "bin", "gitops-reverser")
	populateOnce(b)
	kc := writeKubeconfig(b)
	dir := b.TempDir()

	snapRemote := bare(b, filepath.Join(dir, "snapshot.git"))
	snap := measure(b, binary, "snapshot", "--kubeconfig", kc, "--repo", "file://"+snapRemote, "-A",
		"--resources", "configmaps,icecreamorders.shop.example.com")
	objects := countFiles(b, snapRemote)

	remote := bare(b, filepath.Join(dir, "controller.git"))
	c := kubetest.NewClient(b, env.Config)
	c.Create(b, `
apiVersion: v1
kind: Namespace
metadata: {name: bench-controller}
---
apiVersion: reverser.gitops.dev/v1alpha1
kind: GitDestination
metadata: {name: all, namespace: bench-controller}
spec: {url: "file://`+remote+`"}
---
apiVersion: reverser.gitops.dev/v1alpha1
kind: ClusterWatchRule
metadata: {name: bench}
spec:
  destinationRef: {name: all, namespace: bench-controller}
  rules:
  - {apiGroups: [""], resources: [configmaps]}
  - {apiGroups: [shop.example.com], resources: [icecreamorders]}
`)
	b.Cleanup(func() {
		c.Delete(b, "apiVersion: reverser.gitops.dev/v1alpha1\nkind: ClusterWatchRule\nmetadata: {name: bench}\n")
	})
	cmd := exec.Command(binary, "run", "--kubeconfig", kc, "--cache-dir", filepath.Join(dir, "cache"),
		"--metrics-addr", "0", "--health-addr", "0", "--webhook-addr", "0", "--log-level", logLevel())
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM) }()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Minute)
	for countFilesOrZero(remote) < objects {
		select {
		case err := <-exited:
			b.Fatalf("controller exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatalf("controller did not write %d files in time", objects)
		}
		time.Sleep(100 * time.Millisecond)
	}
	startup := time.Since(start).Seconds()
	hwm, ok := readHWM(cmd.Process.Pid)
	if !ok {
		b.Fatal("no VmHWM for the controller")
	}
	ratio := startup / snap.seconds
	b.ReportMetric(ratio, "x-snapshot")
	b.ReportMetric(hwm, "peak-MiB")
	fmt.Printf("\nController start-up on the same %d objects (one destination, one ClusterWatchRule):\n\n", objects)
	fmt.Printf("| run | seconds | peak RSS (MiB) | time vs snapshot |\n|---|---:|---:|---:|\n")
	fmt.Printf("| baseline: gitops-reverser snapshot | %.2f | %.0f | 1.00x |\n", snap.seconds, snap.rssMiB)
	fmt.Printf("| gitops-reverser run: informers synced, first resync pushed | %.2f | %.0f | %.2fx |\n\n", startup, hwm, ratio)
}

// logLevel of the benchmarked controller: BENCH_LOG_LEVEL, else warn.
func logLevel() string {
	if l := os.Getenv("BENCH_LOG_LEVEL"); l != "" {
		return l
	}
	return "warn"
}

func countFilesOrZero(remote string) int {
	out, err := exec.Command("git", "-C", remote, "ls-tree", "-r", "--name-only", "main").Output()
	if err != nil {
		return 0
	}
	return len(strings.Fields(string(out)))
}
