package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// memNamespaces hold the ConfigMaps of the memory benchmark, apart from the others'.
const memNamespaces = 10

// BenchmarkWatchedMemory measures the controller's resident memory per watched ~1 KiB
// ConfigMap at 10k, 50k and 100k objects (BENCH_MAX_OBJECTS lowers the top), beside a plain
// client-go dynamic informer caching the same objects in the same run. Per object is the RSS
// above the same process watching nothing. At the largest size it also measures the start-up
// (informers synced, first push of every file) against `snapshot` of the same objects, and the
// CPU of resyncs that find nothing to change.
func BenchmarkWatchedMemory(b *testing.B) {
	binary := filepath.Join(kubetest.Root(), "bin", "gitops-reverser")
	kc := writeKubeconfig(b)
	dir := b.TempDir()
	baseline := filepath.Join(dir, "baseline")
	build := exec.Command("go", "build", "-o", baseline, "./bench/baseline")
	build.Dir = kubetest.Root()
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build baseline: %v\n%s", err, out)
	}
	sizes := []int{10000, 50000, 100000}
	if m, err := strconv.Atoi(os.Getenv("BENCH_MAX_OBJECTS")); err == nil {
		sizes = slicesUpTo(sizes, m)
	}
	c := kubetest.NewClient(b, env.Config)
	c.Create(b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: mem-bench}\n")
	// The benchmarks after this one (BenchmarkSnapshot) count every ConfigMap in the cluster.
	b.Cleanup(func() { deleteLabelled(b, "mem", "memory", memNamespaces) })

	idle := controllerRSS(b, binary, kc, dir, "idle", 0)
	baseIdle := informerRSS(b, baseline, kc)
	type row struct {
		n             int
		ours, base    float64 // MiB
		startup, snap float64 // seconds
		startupPeak   float64 // MiB, until the first push of every file
		resyncCPU     float64 // seconds per no-op resync
		commits       int     // made by the no-op resyncs
	}
	var rows []row
	have := 0
	for _, n := range sizes {
		createConfigMaps(b, have, n)
		have = n
		r := row{n: n, ours: controllerRSS(b, binary, kc, dir, fmt.Sprint(n), n), base: informerRSS(b, baseline, kc)}
		rows = append(rows, r)
	}
	last := &rows[len(rows)-1]
	snapRemote := bare(b, filepath.Join(dir, "snapshot.git"))
	snapped := measure(b, binary, "snapshot", "--kubeconfig", kc, "--repo", "file://"+snapRemote, "-A",
		"--resources", "configmaps", "-l", "bench=memory")
	last.snap = snapped.seconds
	last.startup, last.startupPeak, last.resyncCPU, last.commits = startupAndResync(b, binary, kc, dir, last.n)
	defer oneShots(b, binary, baseline, kc, dir, last.n, snapped, snapRemote, last.startupPeak, last.ours)

	perObject := func(rss, idle float64, n int) float64 { return (rss - idle) * 1024 / float64(n) }
	fmt.Printf("\nResident memory per watched ConfigMap (~1 KiB), above the same process watching nothing (ours idle %.0f MiB, baseline idle %.0f MiB):\n\n", idle, baseIdle)
	fmt.Printf("| watched | baseline: client-go informer, whole objects (MiB) | KiB/object | gitops-reverser run (MiB) | KiB/object | vs baseline |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		po, pb := perObject(r.ours, idle, r.n), perObject(r.base, baseIdle, r.n)
		fmt.Printf("| %d | %.0f | %.1f | %.0f | %.1f | %.2fx |\n", r.n, r.base, pb, r.ours, po, po/pb)
		b.ReportMetric(po, fmt.Sprintf("KiB/object@%d", r.n))
	}
	fmt.Printf("\nAt %d watched ConfigMaps:\n\n| run | value | vs baseline |\n|---|---:|---:|\n", last.n)
	fmt.Printf("| baseline: gitops-reverser snapshot (s; peak RSS %.0f MiB) | %.2f | 1.00x |\n", snapped.rssMiB, last.snap)
	fmt.Printf("| gitops-reverser run: informers synced, first push of every file (s; peak RSS %.0f MiB) | %.2f | %.2fx |\n", last.startupPeak, last.startup, last.startup/last.snap)
	fmt.Printf("| CPU of one resync that changes nothing (s; commits made: %d) | %.2f | %.2fx of the snapshot's wall time |\n\n", last.commits, last.resyncCPU, last.resyncCPU/last.snap)
}

func slicesUpTo(sizes []int, limit int) []int {
	var out []int
	for _, s := range sizes {
		if s <= limit {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		out = []int{limit}
	}
	return out
}

// createConfigMaps creates the memory benchmark's ConfigMaps from index from to to.
func createConfigMaps(b *testing.B, from, to int) {
	if from == 0 {
		createNamespaces(b, "mem-%02d", memNamespaces)
	}
	createLabelled(b, "mem", "memory", memNamespaces, from, to)
}

// createLabelled creates ~1 KiB ConfigMaps from index from to to, labelled bench=label, each
// named prefix-index in namespace prefix-(index mod namespaces).
func createLabelled(b *testing.B, prefix, label string, namespaces, from, to int) {
	payload := strings.Repeat("x", configMapSize-100)
	parallel(b, from, to, func(ctx context.Context, dyn dynamic.Interface, i int) error {
		ns := fmt.Sprintf("%s-%02d", prefix, i%namespaces)
		obj := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": fmt.Sprintf("%s-%06d", prefix, i), "namespace": ns, "labels": map[string]any{"bench": label}},
			"data":     map[string]any{"payload": payload, "index": fmt.Sprint(i)},
		}}
		_, err := dyn.Resource(configMapsGVR).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
		return err
	})
}

// deleteLabelled deletes the ConfigMaps createLabelled made, all at once: one delete-collection
// per namespace, all in parallel.
func deleteLabelled(b *testing.B, prefix, label string, namespaces int) {
	parallel(b, 0, namespaces, func(ctx context.Context, dyn dynamic.Interface, i int) error {
		return dyn.Resource(configMapsGVR).Namespace(fmt.Sprintf("%s-%02d", prefix, i)).DeleteCollection(ctx,
			metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "bench=" + label})
	})
}

var configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// createNamespaces makes n namespaces named by format and their index.
func createNamespaces(b *testing.B, format string, n int) {
	dyn := unthrottled(b)
	for i := range n {
		ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": fmt.Sprintf(format, i)}}}
		if _, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// unthrottled is a dynamic client without client-side rate limits.
func unthrottled(b *testing.B) dynamic.Interface {
	dyn, err := kubetest.Unthrottled(env.Config)
	if err != nil {
		b.Fatal(err)
	}
	return dyn
}

// writers is how many clients write at once in the benchmarks' bursts.
const writers = 32

// parallel calls do for every index from from to to, from writers goroutines, and fails on the
// first error.
func parallel(b *testing.B, from, to int, do func(context.Context, dynamic.Interface, int) error) {
	dyn := unthrottled(b)
	if err := kubetest.Parallel(writers, to-from, func(i int) error {
		return do(context.Background(), dyn, from+i)
	}); err != nil {
		b.Fatalf("burst: %v", err)
	}
}

// benchRule points a destination at remote, with the extra spec fields given, and watches
// the ConfigMaps labelled bench=label.
func benchRule(b *testing.B, name, remote, label, spec string) func() {
	c := kubetest.NewClient(b, env.Config)
	docs := `
apiVersion: reverser.gitops.dev/v1alpha1
kind: GitDestination
metadata: {name: ` + name + `, namespace: mem-bench}
spec: {url: "file://` + remote + `"` + spec + `}
---
apiVersion: reverser.gitops.dev/v1alpha1
kind: ClusterWatchRule
metadata: {name: mem-` + name + `}
spec:
  destinationRef: {name: ` + name + `, namespace: mem-bench}
  rules:
  - {apiGroups: [""], resources: [configmaps]}
  objectSelector: {matchLabels: {bench: ` + label + `}}
`
	c.Create(b, docs)
	return func() { c.Delete(b, docs) }
}

// controller is a running controller binary serving one benchmark destination.
type controller struct {
	cmd    *exec.Cmd
	remote string
	took   time.Duration // until its first push of the files it was started for
	stop   func()        // ends it and removes its destination, so the next one serves only its own
}

// runController starts the controller binary on one destination watching n objects and waits
// for its first push of them. With n 0 the rule selects a label nothing has.
func runController(b *testing.B, binary, kc, dir, name string, n int, extra ...string) controller {
	label := "memory"
	if n == 0 {
		label = "nothing"
	}
	return startController(b, binary, kc, dir, name, label, "", n, extra...)
}

// startController starts the controller binary on one destination watching the ConfigMaps
// labelled bench=label and waits for its first push of n files.
func startController(b *testing.B, binary, kc, dir, name, label, spec string, n int, extra ...string) controller {
	remote := bare(b, filepath.Join(dir, "mem-"+name+".git"))
	removeRule := benchRule(b, "d"+strings.ReplaceAll(name, "-", ""), remote, label, spec)
	args := append([]string{"run", "--kubeconfig", kc, "--cache-dir", filepath.Join(dir, "cache-"+name),
		"--metrics-addr", "0", "--health-addr", "0", "--webhook-addr", "0", "--log-level", logLevel()}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
			removeRule()
		})
	}
	b.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		if _, err := exec.Command("git", "-C", remote, "rev-parse", "-q", "--verify", "main").Output(); err == nil && countFilesOrZero(remote) >= n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("controller %s did not push %d files in time", name, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return controller{cmd: cmd, remote: remote, took: time.Since(start), stop: stop}
}

// controllerRSS is the controller's resident memory (MiB) once it has pushed n objects and
// settled.
func controllerRSS(b *testing.B, binary, kc, dir, name string, n int) float64 {
	c := runController(b, binary, kc, dir, name, n)
	defer c.stop()
	time.Sleep(5 * time.Second)
	return rss(b, c.cmd.Process.Pid)
}

// informerRSS is the resident memory (MiB) of a plain dynamic informer of every ConfigMap.
func informerRSS(b *testing.B, baseline, kc string) float64 {
	cmd := exec.Command(baseline, "-informer", "-kubeconfig", kc)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "synced") {
		b.Fatalf("baseline informer: %q, %v", line, err)
	}
	time.Sleep(5 * time.Second)
	return rss(b, cmd.Process.Pid)
}

// startupAndResync starts the controller on n objects with a short resync interval, and
// returns its start-up time and peak RSS, and the CPU seconds and commits of one no-op resync
// (the mean of three, idle time between them included).
func startupAndResync(b *testing.B, binary, kc, dir string, n int) (startup, peak, cpu float64, commits int) {
	const interval, resyncs = 10 * time.Second, 3
	c := runController(b, binary, kc, dir, "resync", n, "--resync-interval", interval.String())
	defer c.stop()
	peak, _ = readHWM(c.cmd.Process.Pid)
	commits = commitCount(b, c.remote)
	cpu0 := processCPU(b, c.cmd.Process.Pid)
	time.Sleep(resyncs * interval)
	cpu = (processCPU(b, c.cmd.Process.Pid) - cpu0) / resyncs
	return c.took.Seconds(), peak, cpu, commitCount(b, c.remote) - commits
}

func commitCount(b *testing.B, remote string) int {
	out, err := exec.Command("git", "-C", remote, "rev-list", "--count", "main").Output()
	if err != nil {
		b.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// rss is a process's current resident set in MiB.
func rss(b *testing.B, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// processCPU is a process's user and system CPU seconds so far.
func processCPU(b *testing.B, pid int) float64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // clock ticks; 100 per second on Linux
}
