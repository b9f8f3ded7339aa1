package snapshot

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
)

// BenchmarkRender renders live objects of a real API server, made by kubectl create (whose
// managedFields own every default), in each output mode, and prints a table: the cost of
// leaving defaults out (Clean) beside Full, the baseline, and beside Clean without defaulting
// (CleanOwned, what a server version the compiled defaulting does not cover gets), measured in
// the same run. "widget" is a custom resource whose CRD's schema has defaults.
func BenchmarkRender(b *testing.B) {
	d := testDefaulter(b)
	modes := []struct {
		name string
		o    Output
		d    *defaulting.Defaulter
	}{{"Full", Full, d}, {"CleanOwned", Clean, nil}, {"Clean", Clean, d}}
	fmt.Printf("\nRendering one object, each mode measured in this run (objects/s; allocations per object); baseline: Full:\n\n")
	fmt.Printf("| object | Full | CleanOwned | Clean | Clean's time vs Full |\n|---|---:|---:|---:|---:|\n")
	for _, name := range []string{"deployment", "pod", "service-clusterip", "configmap", "widget"} {
		obj := live(b, name, "create")
		rates := make([]float64, len(modes))
		var allocs float64
		row := "| " + name
		for i, mode := range modes {
			rates[i], allocs = measureRender(b, obj, mode.o, mode.d)
			row += fmt.Sprintf(" | %.0f; %.0f", rates[i], allocs)
		}
		fmt.Printf("%s | %.2fx |\n", row, rates[0]/rates[2])
		if name == "deployment" {
			b.ReportMetric(rates[0]/rates[2], "deployment-clean-x-full")
		}
	}
}

// measureRender renders obj for a second and returns objects per second and allocations per
// object. testing.Benchmark cannot run inside a benchmark, so this counts as it does.
func measureRender(b *testing.B, obj *unstructured.Unstructured, o Output, d *defaulting.Defaulter) (perSecond, allocs float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n, start := 0, time.Now()
	for time.Since(start) < time.Second {
		if _, err := PlainWith(obj, o, d); err != nil {
			b.Fatal(err)
		}
		n++
	}
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	return float64(n) / elapsed.Seconds(), float64(after.Mallocs-before.Mallocs) / float64(n)
}
