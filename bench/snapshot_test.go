// Package bench measures gitops-reverser against baselines measured in the same run.
// `make bench` runs it and prints the tables.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

var env *kubetest.Env

func TestMain(m *testing.M) { kubetest.Main(m, &env) }

const (
	namespaces    = 20
	configMaps    = 10000
	orders        = 500
	configMapSize = 1024
)

// result is one measured run of a command.
type result struct {
	seconds float64
	rssMiB  float64
}

// measure runs a command and reports its wall time and peak RSS. The peak is the process's
// own VmHWM, sampled until it exits: rusage's maxrss of a child started from this (large) test
// process also counts this process's memory at the fork.
func measure(b *testing.B, name string, args ...string) result {
	b.Helper()
	cmd := exec.Command(name, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var peak float64
	for {
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("%s: %v\n%s", name, err, out.String())
			}
			return result{seconds: time.Since(start).Seconds(), rssMiB: peak}
		case <-time.After(10 * time.Millisecond):
			if hwm, ok := readHWM(cmd.Process.Pid); ok {
				peak = max(peak, hwm)
			}
		}
	}
}

// readHWM is a running process's peak resident set in MiB, from /proc.
func readHWM(pid int) (float64, bool) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			return kb / 1024, err == nil
		}
	}
	return 0, false
}

func median(rs []result) result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].seconds < rs[j].seconds })
	m := rs[len(rs)/2]
	peak := 0.0
	for _, r := range rs {
		peak = max(peak, r.rssMiB)
	}
	m.rssMiB = peak
	return m
}

func BenchmarkSnapshot(b *testing.B) {
	root := kubetest.Root()
	binary := filepath.Join(root, "bin", "gitops-reverser")
	if _, err := os.Stat(binary); err != nil {
		b.Fatalf("%s missing: run make build", binary)
	}
	populateOnce(b)
	kc := writeKubeconfig(b)
	dir := b.TempDir()
	baseline := filepath.Join(dir, "baseline")
	build := exec.Command("go", "build", "-o", baseline, "./bench/baseline")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build baseline: %v\n%s", err, out)
	}
	objects := float64(configMaps + orders)
	var base, ours []result
	for i := range 3 {
		remote := bare(b, filepath.Join(dir, fmt.Sprintf("base-%d.git", i)))
		base = append(base, measure(b, baseline, "-kubeconfig", kc, "-remote", remote, "-work", filepath.Join(dir, fmt.Sprintf("work-%d", i))))
		remote = bare(b, filepath.Join(dir, fmt.Sprintf("ours-%d.git", i)))
		ours = append(ours, measure(b, binary, "snapshot", "--kubeconfig", kc, "--repo", "file://"+remote, "-A",
			"--resources", "configmaps,icecreamorders.shop.example.com"))
		// The control plane's own ConfigMaps (kube-system) come on top of ours.
		n := countFiles(b, remote)
		if n < configMaps+orders || n > configMaps+orders+10 {
			b.Fatalf("snapshot wrote %d files, want %d and the control plane's few", n, configMaps+orders)
		}
		objects = float64(n)
	}
	mb, mo := median(base), median(ours)
	ratio := mo.seconds / mb.seconds
	b.ReportMetric(ratio, "x-baseline")
	b.ReportMetric(objects/mo.seconds, "objects/s")
	fmt.Printf("\nSnapshot of %d ConfigMaps (~1 KiB, %d namespaces) + %d custom resources, median of 3 runs:\n\n", configMaps, namespaces, orders)
	fmt.Printf("| run | seconds | objects/s | peak RSS (MiB) | time vs baseline |\n|---|---:|---:|---:|---:|\n")
	fmt.Printf("| baseline: client-go paged LIST + YAML files + git CLI commit/push | %.2f | %.0f | %.0f | 1.00x |\n", mb.seconds, objects/mb.seconds, mb.rssMiB)
	fmt.Printf("| gitops-reverser snapshot | %.2f | %.0f | %.0f | %.2fx |\n\n", mo.seconds, objects/mo.seconds, mo.rssMiB, ratio)
}

func bare(b *testing.B, dir string) string {
	if out, err := exec.Command("git", "init", "-q", "--bare", "--initial-branch=main", dir).CombinedOutput(); err != nil {
		b.Fatalf("git init: %v\n%s", err, out)
	}
	return dir
}

func countFiles(b *testing.B, remote string) int {
	out, err := exec.Command("git", "-C", remote, "ls-tree", "-r", "--name-only", "main").Output()
	if err != nil {
		b.Fatalf("ls-tree: %v", err)
	}
	return len(strings.Fields(string(out)))
}

func writeKubeconfig(b *testing.B) string {
	p := filepath.Join(b.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(p, ""); err != nil {
		b.Fatal(err)
	}
	return p
}

var populated sync.Once

// populateOnce installs the CRD and creates the objects the benchmarks share.
func populateOnce(b *testing.B) {
	populated.Do(func() {
		c := kubetest.NewClient(b, env.Config)
		c.InstallCRDs(b, "testdata/crds/icecreamorders.shop.example.com.yaml")
		populate(b)
	})
}

// populate creates the objects once, with bounded concurrency.
func populate(b *testing.B) {
	dyn := unthrottled(b)
	ctx := context.Background()
	cmGVR := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	orderGVR := schema.GroupVersionResource{Group: "shop.example.com", Version: "v1", Resource: "icecreamorders"}
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	for i := range namespaces {
		ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": fmt.Sprintf("bench-%02d", i)}}}
		if _, err := dyn.Resource(nsGVR).Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	payload := strings.Repeat("x", configMapSize-100)
	var objs []*unstructured.Unstructured
	for i := range configMaps {
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("cm-%05d", i), "namespace": fmt.Sprintf("bench-%02d", i%namespaces), "labels": map[string]any{"app": "bench"}},
			"data":     map[string]any{"payload": payload, "index": fmt.Sprint(i)},
		}})
	}
	for i := range orders {
		objs = append(objs, &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "shop.example.com/v1", "kind": "IceCreamOrder",
			"metadata": map[string]any{"name": fmt.Sprintf("order-%03d", i), "namespace": fmt.Sprintf("bench-%02d", i%namespaces)},
			"spec":     map[string]any{"flavour": "vanilla", "scoops": int64(1 + i%3)},
		}})
	}
	err := kubetest.Parallel(16, len(objs), func(i int) error {
		gvr := cmGVR
		if objs[i].GetKind() == "IceCreamOrder" {
			gvr = orderGVR
		}
		_, err := dyn.Resource(gvr).Namespace(objs[i].GetNamespace()).Create(ctx, objs[i], metav1.CreateOptions{})
		return err
	})
	if err != nil {
		b.Fatalf("populate: %v", err)
	}
}
