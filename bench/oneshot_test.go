package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// beforeStreaming is the last revision whose one-shot commands and resync held every file in
// memory; BENCH_BEFORE names another.
const beforeStreaming = "e6232d5"

// peakBound is the peak RSS the one-shot commands must stay under at 100,000 objects (the
// example CronJob's limit is 512Mi).
const peakBound = 256

// oneShotRow is one command measured now, and before streaming when that revision builds.
type oneShotRow struct {
	name         string
	now, before  result
	bound, ratio string
}

// oneShots measures snapshot, diff and restore of the n ConfigMaps labelled bench=memory
// against the baseline (a paged LIST, a YAML file per object, git add -A, commit and push), and
// beside them the same commands of the revision before streaming. startupPeak and settled are
// the controller's peak RSS up to its first push of every file, and once settled.
func oneShots(b *testing.B, binary, baseline, kc, dir string, n int, snapped result, snapRemote string, startupPeak, settled float64) {
	sel := []string{"--kubeconfig", kc, "-A", "--resources", "configmaps", "-l", "bench=memory"}
	base := measure(b, baseline, "-kubeconfig", kc, "-l", "bench=memory", "-remote", bare(b, filepath.Join(dir, "base-100k.git")), "-work", filepath.Join(dir, "base-100k"))
	run := func(bin, name string, remote string) (snap, diff, restore result) {
		if remote == "" {
			remote = bare(b, filepath.Join(dir, name+".git"))
			snap = measure(b, bin, append([]string{"snapshot", "--repo", "file://" + remote}, sel...)...)
		}
		repo := []string{"--repo", "file://" + remote}
		diff = measure(b, bin, append(append([]string{"diff"}, repo...), sel...)...)
		restore = measure(b, bin, append(append([]string{"restore"}, repo...), sel...)...)
		return snap, diff, restore
	}
	_, diff, restore := run(binary, "", snapRemote)
	rows := []oneShotRow{
		{name: "baseline: paged LIST, YAML files, git add -A && git commit && git push", now: base},
		{name: "gitops-reverser snapshot", now: snapped, bound: fmt.Sprintf("≤ %d MiB, ≤ 1.00x", peakBound)},
		{name: "gitops-reverser diff (nothing differs)", now: diff, bound: fmt.Sprintf("≤ %d MiB", peakBound)},
		{name: "gitops-reverser restore (every object exists unchanged)", now: restore, bound: fmt.Sprintf("≤ %d MiB", peakBound)},
	}
	before, rev := buildBefore(b, dir)
	var beforeStartup float64
	if before != "" {
		rows[1].before, rows[2].before, rows[3].before = run(before, "before", "")
		c := runController(b, before, kc, dir, "before-first", n)
		beforeStartup, _ = readHWM(c.cmd.Process.Pid)
		c.stop()
	}
	fmt.Printf("\nOne-shot commands at %d ConfigMaps (~1 KiB, %d namespaces); peaks beside %s, the revision before they streamed:\n\n", n, memNamespaces, rev)
	fmt.Printf("| run | seconds | vs baseline | peak RSS (MiB) | before: seconds | before: peak RSS (MiB) | bound |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		fmt.Printf("| %s | %.2f | %.2fx | %.0f | %s | %s | %s |\n", r.name, r.now.seconds, r.now.seconds/base.seconds, r.now.rssMiB,
			orDash(r.before.seconds, "%.2f"), orDash(r.before.rssMiB, "%.0f"), r.bound)
	}
	fmt.Printf("| gitops-reverser run: peak up to its first push of every file, vs settled %.0f MiB | | | %.0f (%.2fx) | | %s | ≤ 1.50x settled |\n\n",
		settled, startupPeak, startupPeak/settled, orDash(beforeStartup, "%.0f"))
	b.ReportMetric(snapped.seconds/base.seconds, "snapshot-x-baseline@100k")
	b.ReportMetric(snapped.rssMiB, "snapshot-peak-MiB@100k")
	b.ReportMetric(startupPeak/settled, "first-resync-peak-x-settled")
}

func orDash(v float64, format string) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// buildBefore builds the binary of the revision before streaming from this repository's
// history; "" when the clone lacks it (a shallow clone).
func buildBefore(b *testing.B, dir string) (binary, rev string) {
	rev = beforeStreaming
	if r := os.Getenv("BENCH_BEFORE"); r != "" {
		rev = r
	}
	root := kubetest.Root()
	src := filepath.Join(dir, "before-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	archive := exec.Command("sh", "-c", `git -C "$1" archive "$2" | tar -x -C "$3"`, "sh", root, rev, src)
	if out, err := archive.CombinedOutput(); err != nil {
		b.Logf("revision %s not measured: %v: %s", rev, err, out)
		return "", rev + " (not in this clone)"
	}
	binary = filepath.Join(dir, "gitops-reverser-before")
	build := exec.Command("go", "build", "-o", binary, "./cmd/gitops-reverser")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build %s: %v\n%s", rev, err, out)
	}
	return binary, rev
}
