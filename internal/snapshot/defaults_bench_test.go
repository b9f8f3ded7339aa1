package snapshot

import (
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
)

// BenchmarkRender renders live objects of a real API server, made by kubectl create (whose
// managedFields own every default), in each output mode: the cost of leaving defaults out
// (Clean) beside Full and beside Clean without defaulting (CleanOwned, what a server version
// the compiled defaulting does not cover gets), measured in the same run. Run with -benchmem.
func BenchmarkRender(b *testing.B) {
	t := &testing.T{}
	d := testDefaulter(t)
	for _, name := range []string{"deployment", "pod", "service-clusterip", "configmap", "widget"} {
		obj := live(t, name, "create")
		for _, mode := range []struct {
			name string
			o    Output
			d    *defaulting.Defaulter
		}{{"Full", Full, d}, {"CleanOwned", Clean, nil}, {"Clean", Clean, d}} {
			b.Run(name+"/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := PlainWith(obj, mode.o, mode.d); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "objects/s")
			})
		}
	}
}
