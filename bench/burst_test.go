package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// burstObjects is the size of a burst; BENCH_BURST_OBJECTS changes it.
const burstObjects = 20000

// BenchmarkBurst creates ConfigMaps from 32 parallel writers, one namespace each (as when many
// releases are installed at once), then deletes them all at once, under a controller with
// commitWindow 0s and one with 2s. It reports how long after each burst's last write the remote
// holds exactly the cluster, the commits, the peak RSS beside the steady state with the objects
// watched, and the controller's CPU; the baseline is `snapshot` of the same objects in the same
// run.
func BenchmarkBurst(b *testing.B) {
	binary := filepath.Join(kubetest.Root(), "bin", "gitops-reverser")
	kc := writeKubeconfig(b)
	dir := b.TempDir()
	n := burstObjects
	if v, err := strconv.Atoi(os.Getenv("BENCH_BURST_OBJECTS")); err == nil && v > 0 {
		n = v
	}
	c := kubetest.NewClient(b, env.Config)
	c.Create(b, "apiVersion: v1\nkind: Namespace\nmetadata: {name: mem-bench}\n")
	createNamespaces(b, "burst-%02d", writers)

	type row struct {
		window, op     string
		writes, caught float64 // seconds: the burst's writes; after the last, until Git held them
		commits        int
		peak, steady   float64 // MiB: during the burst; settled with the objects watched
		cpu            float64 // controller CPU seconds from the burst's start until caught up
	}
	var rows []row
	var snap result
	for _, window := range []string{"0s", "2s"} {
		ctl := startController(b, binary, kc, dir, "burst-"+window, "burst", ", commitWindow: "+window, 0)
		pid := ctl.cmd.Process.Pid
		phase := func(op string, writes func(), want int) row {
			resetHWM(b, pid)
			commits, cpu := commitCount(b, ctl.remote), processCPU(b, pid)
			start := time.Now()
			writes()
			end := time.Now()
			deadline := end.Add(10 * time.Minute)
			for countFilesOrZero(ctl.remote) != want {
				if time.Now().After(deadline) {
					b.Fatalf("commitWindow %s: the remote did not reach %d files after the %s burst", window, want, op)
				}
				time.Sleep(100 * time.Millisecond)
			}
			r := row{window: window, op: op, writes: end.Sub(start).Seconds(), caught: time.Since(end).Seconds(),
				commits: commitCount(b, ctl.remote) - commits, cpu: processCPU(b, pid) - cpu}
			r.peak, _ = readHWM(pid)
			return r
		}
		created := phase("create", func() { createLabelled(b, "burst", "burst", writers, 0, n) }, n)
		time.Sleep(5 * time.Second)
		created.steady = rss(b, pid)
		if window == "0s" {
			snapRemote := bare(b, filepath.Join(dir, "snapshot.git"))
			snap = measure(b, binary, "snapshot", "--kubeconfig", kc, "--repo", "file://"+snapRemote, "-A",
				"--resources", "configmaps", "-l", "bench=burst")
		}
		deleted := phase("delete", func() { deleteLabelled(b, "burst", "burst", writers) }, 0)
		deleted.steady = created.steady
		rows = append(rows, created, deleted)
		ctl.stop()
	}

	fmt.Printf("\nA burst of %d ConfigMaps (~1 KiB) from %d writers in %d namespaces, then all deleted at once.\n", n, writers, writers)
	fmt.Printf("Caught up: from the burst's last write until the remote holds exactly the cluster.\n\n")
	fmt.Printf("| run | writes (s) | caught up (s) | vs baseline | commits | peak RSS (MiB) | peak vs steady | CPU (s) |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Printf("| baseline: gitops-reverser snapshot of the %d | | %.2f | 1.00x | 1 | %.0f | | |\n", n, snap.seconds, snap.rssMiB)
	for _, r := range rows {
		fmt.Printf("| commitWindow %s, %s | %.1f | %.2f | %.2fx | %d | %.0f | %.2fx of %.0f | %.1f |\n",
			r.window, r.op, r.writes, r.caught, r.caught/snap.seconds, r.commits, r.peak, r.peak/r.steady, r.steady, r.cpu)
		b.ReportMetric(r.caught, fmt.Sprintf("s-caught-up/%s-%s", r.op, r.window))
	}
	fmt.Println()
}

// resetHWM resets a process's peak resident set to its current one, so VmHWM is the peak of
// what follows.
func resetHWM(b *testing.B, pid int) {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		b.Fatalf("reset peak RSS: %v", err)
	}
}
