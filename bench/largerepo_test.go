package bench

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
)

// fixture is the shape of a generated repository: namespaces × resource
// folders × perFolder files of ~300 bytes, and a history in which every
// commit after the first changes perCommit files.
type fixture struct {
	namespaces, perFolder, commits, perCommit int
}

// resourceFolders are the folders in every namespace, with the kind of the
// objects in them.
var resourceFolders = []struct{ resource, apiVersion, kind string }{
	{"configmaps", "v1", "ConfigMap"},
	{"secrets", "v1", "Secret"},
	{"services", "v1", "Service"},
	{"serviceaccounts", "v1", "ServiceAccount"},
	{"deployments", "apps/v1", "Deployment"},
}

var (
	largeRepo = fixture{namespaces: 50, perFolder: 200, commits: 5000, perCommit: 3}
	smallRepo = fixture{namespaces: 4, perFolder: 5, commits: 10, perCommit: 3}
)

const (
	largeRuns     = 3  // start-up and steady-state runs; the tables show medians
	steadyApplies = 20 // timed Applies per steady-state run, averaged
)

var benchSig = gitrepo.Signature{Name: "bench", Email: "bench@example.com"}

func (f fixture) files() int { return f.namespaces * len(resourceFolders) * f.perFolder }

func (f fixture) String() string {
	return fmt.Sprintf("%s files / %s commits", shortCount(f.files()), shortCount(f.commits))
}

// shortCount writes 50000 as 50k.
func shortCount(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// path is the i-th file of the fixture, shaped like the controller's layout.
func (f fixture) path(i int) string {
	ns := i / (len(resourceFolders) * f.perFolder)
	folder := resourceFolders[(i/f.perFolder)%len(resourceFolders)]
	return fmt.Sprintf("ns-%02d/%s/obj-%03d.yaml", ns, folder.resource, i%f.perFolder)
}

// content is the YAML of the i-th file at a revision: ~300 bytes, unique, and
// about as compressible as real manifests (a hex payload, not a repeated byte).
func (f fixture) content(i, revision int) []byte {
	p := f.path(i)
	parts := strings.Split(p, "/")
	folder := resourceFolders[(i/f.perFolder)%len(resourceFolders)]
	sum := sha256.Sum256(fmt.Appendf(nil, "%s@%d", p, revision))
	payload := hex.EncodeToString(sum[:])
	return fmt.Appendf(nil, `apiVersion: %s
kind: %s
metadata:
  name: %s
  namespace: %s
  labels:
    app.kubernetes.io/name: bench
    app.kubernetes.io/part-of: large-repo
  annotations:
    bench.example.com/revision: "%d"
data:
  checksum: %s
  payload: %s%s
`, folder.apiVersion, folder.kind, strings.TrimSuffix(parts[2], ".yaml"), parts[0], revision,
		payload[:32], payload, payload[:24])
}

// changed is the file the k-th change of commit c touches: a stride that is
// coprime with the file count, so the history spreads over the whole tree.
func (f fixture) changed(c, k int) int {
	return ((c*f.perCommit + k) * 7919) % f.files()
}

// build generates the fixture as a bare repository with one git fast-import
// stream: a first commit with every file, then commits of perCommit changes.
func (f fixture) build(b *testing.B, dir string) string {
	b.Helper()
	gitRun(b, "", "init", "-q", "--bare", "--initial-branch=main", dir)
	cmd := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	werr := f.stream(w)
	if werr == nil {
		werr = w.Flush()
	}
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil || werr != nil {
		b.Fatalf("fast-import: %v %v\n%s", err, werr, stderr.String())
	}
	// A served repository has been repacked; fast-import's pack has not.
	gitRun(b, "", "-C", dir, "repack", "-adq")
	if n := len(strings.Fields(gitRun(b, "", "-C", dir, "ls-tree", "-r", "--name-only", "main"))); n != f.files() {
		b.Fatalf("fixture has %d files, want %d", n, f.files())
	}
	return dir
}

func (f fixture) stream(w io.Writer) error {
	when := int64(1_700_000_000)
	for c := range f.commits {
		var files []int
		if c == 0 {
			files = make([]int, f.files())
			for i := range files {
				files[i] = i
			}
		} else {
			for k := range f.perCommit {
				files = append(files, f.changed(c, k))
			}
		}
		msg := fmt.Sprintf("commit %d: %d files", c, len(files))
		if _, err := fmt.Fprintf(w, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n",
			when+int64(c)*60, len(msg), msg); err != nil {
			return err
		}
		for _, i := range files {
			body := f.content(i, c)
			if _, err := fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", f.path(i), len(body), body); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkLargeRepo measures gitrepo on a remote of 50,000 files and 5,000
// commits: start-up (a clone on disk and the first commit and push, which
// reads every path of the head) against the git CLI doing the same in the
// same run, and the steady-state cost of a one-file commit and push against
// the same on a repository of 100 files.
//
// gitrepo and the git CLI each get their own copy of every fixture, so the
// commits of one never make the other fetch.
func BenchmarkLargeRepo(b *testing.B) {
	dir := b.TempDir()
	start := time.Now()
	large := newFixtureRemotes(b, largeRepo, filepath.Join(dir, "large"))
	small := newFixtureRemotes(b, smallRepo, filepath.Join(dir, "small"))
	fmt.Printf("\nLarge-repository fixtures built with git fast-import in %.1f s\n", time.Since(start).Seconds())

	var base, ours []startUp
	var steadyLarge, steadySmall []steadyCost
	for i := range largeRuns {
		run := filepath.Join(dir, fmt.Sprint("run-", i))
		base = append(base, cliStartUp(b, large, filepath.Join(run, "cli-large.git"), i))
		s, rl := repoStartUp(b, large, filepath.Join(run, "large"), i)
		ours = append(ours, s)
		_, rs := repoStartUp(b, small, filepath.Join(run, "small"), i)
		cliSmall := filepath.Join(run, "cli-small.git")
		gitRun(b, "", "clone", "-q", "--bare", "file://"+small.cli, cliSmall)
		l, sm := steadyState(b,
			steadySide{fixtureRemotes: large, opened: rl, cliClone: filepath.Join(run, "cli-large.git")},
			steadySide{fixtureRemotes: small, opened: rs, cliClone: cliSmall})
		steadyLarge, steadySmall = append(steadyLarge, l), append(steadySmall, sm)
		closeRepo(b, rl)
		closeRepo(b, rs)
	}
	reportStartUp(b, base, ours)
	reportSteadyState(b, steadyLarge, steadySmall)
}

// fixtureRemotes are two identical bare repositories of a fixture: one for
// gitrepo, one for the git CLI baseline.
type fixtureRemotes struct {
	fixture
	repo, cli string
	next      int // seeds the next file to change, so no two commits touch the same one
}

func newFixtureRemotes(b *testing.B, f fixture, dir string) *fixtureRemotes {
	b.Helper()
	r := &fixtureRemotes{fixture: f, repo: f.build(b, dir+".git"), cli: dir + "-cli.git", next: f.commits}
	// A local clone hard-links the pack: the same objects, the same layout.
	gitRun(b, "", "clone", "-q", "--bare", r.repo, r.cli)
	return r
}

// target picks the next file to change.
func (r *fixtureRemotes) target() int {
	r.next++
	return r.changed(r.next, 0)
}

// startUp is one measured start-up, split in its clone and its first commit.
type startUp struct{ clone, commit float64 }

func (s startUp) total() float64 { return s.clone + s.commit }

// repoStartUp is the controller's path: gitrepo.Open into an empty Dir, then
// an Apply whose build reads all files of the head and changes one of them.
// It returns the open Repo for the steady-state run.
func repoStartUp(b *testing.B, r *fixtureRemotes, dir string, run int) (startUp, *gitrepo.Repo) {
	b.Helper()
	ctx := context.Background()
	t0 := time.Now()
	repo, err := gitrepo.Open(ctx, gitrepo.Options{URL: "file://" + r.repo, Dir: dir})
	if err != nil {
		b.Fatalf("Open: %v", err)
	}
	t1 := time.Now()
	target := r.target()
	res, err := repo.Apply(ctx, func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		files, err := head.Files("")
		if err != nil {
			return nil, err
		}
		if len(files) != r.files() {
			return nil, fmt.Errorf("head has %d files, want %d", len(files), r.files())
		}
		return oneChange(r.fixture, target, fmt.Sprint("start-up ", run)), nil
	})
	if err != nil {
		b.Fatalf("first Apply: %v", err)
	}
	t2 := time.Now()
	requireRemoteHead(b, r.repo, res.Head.String())
	return startUp{clone: t1.Sub(t0).Seconds(), commit: t2.Sub(t1).Seconds()}, repo
}

// cliStartUp is the baseline: git clone --bare, then the same commit made
// with plumbing (no worktree, like gitrepo): read-tree of the whole head into
// a temporary index, hash-object, update-index, write-tree, commit-tree, push.
func cliStartUp(b *testing.B, r *fixtureRemotes, dir string, run int) startUp {
	b.Helper()
	file := r.target()
	t0 := time.Now()
	gitRun(b, "", "clone", "-q", "--bare", "file://"+r.cli, dir)
	t1 := time.Now()
	env := "GIT_INDEX_FILE=" + filepath.Join(dir, "bench-index")
	gitRun(b, env, "-C", dir, "read-tree", "main")
	blob := gitRunIn(b, dir, string(oneChange(r.fixture, file, "cli")[0].Changes[0].Content), "hash-object", "-w", "--stdin")
	gitRun(b, env, "-C", dir, "update-index", "--cacheinfo", "100644,"+blob+","+r.path(file))
	tree := gitRun(b, env, "-C", dir, "write-tree")
	commit := gitRun(b, "GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com",
		"-C", dir, "commit-tree", tree, "-p", "main", "-m", fmt.Sprint("baseline start-up ", run))
	gitRun(b, "", "-C", dir, "push", "-q", "origin", commit+":refs/heads/main")
	t2 := time.Now()
	requireRemoteHead(b, r.cli, commit)
	return startUp{clone: t1.Sub(t0).Seconds(), commit: t2.Sub(t1).Seconds()}
}

// steadySide is one repository of the steady-state comparison: its remotes,
// the Repo opened on one, and a bare CLI clone of the other.
type steadySide struct {
	*fixtureRemotes
	opened   *gitrepo.Repo
	cliClone string
}

// steadyCost is the mean cost of one steady-state commit and push, in seconds.
type steadyCost struct {
	wall     float64 // gitrepo Apply, wall clock
	self     float64 // CPU of this process during the Apply: gitrepo and go-git
	children float64 // CPU of the git processes the Apply ran: upload-pack, receive-pack and theirs
	cli      float64 // git CLI baseline, wall clock
}

func (c steadyCost) plus(d steadyCost) steadyCost {
	return steadyCost{c.wall + d.wall, c.self + d.self, c.children + d.children, c.cli + d.cli}
}

func (c steadyCost) per(n int) steadyCost {
	f := float64(n)
	return steadyCost{c.wall / f, c.self / f, c.children / f, c.cli / f}
}

// steadyState measures steadyApplies one-file commits and pushes on both
// sides, alternating between them so that the noise of a shared machine
// falls on both alike. One untimed round comes first: the first Apply after
// Open builds on the head fetched by Open and skips its own fetch.
func steadyState(b *testing.B, large, small steadySide) (steadyCost, steadyCost) {
	b.Helper()
	sides := []steadySide{large, small}
	sums := make([]steadyCost, len(sides))
	for i := range steadyApplies + 1 {
		for k, s := range sides {
			c := timedApply(b, s)
			c.cli = timedCLICommit(b, s)
			if i > 0 {
				sums[k] = sums[k].plus(c)
			}
		}
	}
	return sums[0].per(steadyApplies), sums[1].per(steadyApplies)
}

// timedApply is one Apply of one changed file, checked to have landed.
func timedApply(b *testing.B, s steadySide) steadyCost {
	b.Helper()
	target := s.target()
	self, children := cpuTime(syscall.RUSAGE_SELF), cpuTime(syscall.RUSAGE_CHILDREN)
	t0 := time.Now()
	res, err := s.opened.Apply(context.Background(), func(context.Context, gitrepo.Head) ([]gitrepo.Commit, error) {
		return oneChange(s.fixture, target, "steady"), nil
	})
	c := steadyCost{
		wall:     time.Since(t0).Seconds(),
		self:     cpuTime(syscall.RUSAGE_SELF) - self,
		children: cpuTime(syscall.RUSAGE_CHILDREN) - children,
	}
	if err != nil {
		b.Fatalf("Apply: %v", err)
	}
	if res.Commits != 1 || res.Attempts != 1 {
		b.Fatalf("Apply: %d commits in %d attempts, want 1 in 1", res.Commits, res.Attempts)
	}
	requireRemoteHead(b, s.repo, res.Head.String())
	return c
}

// timedCLICommit is the baseline for one steady-state Apply: git fetch, a
// one-file commit by git fast-import on the fetched head (which reads only
// the trees along the path, like gitrepo), and git push.
func timedCLICommit(b *testing.B, s steadySide) float64 {
	b.Helper()
	file := s.target()
	content := oneChange(s.fixture, file, "cli")[0].Changes[0].Content
	stream := fmt.Sprintf("commit refs/heads/bench\ncommitter bench <bench@example.com> %d +0000\ndata 6\nsteady\nfrom FETCH_HEAD\nM 100644 inline %s\ndata %d\n%s\n",
		time.Now().Unix(), s.path(file), len(content), content)
	t0 := time.Now()
	gitRun(b, "", "-C", s.cliClone, "fetch", "-q", "origin", "main")
	gitRunIn(b, s.cliClone, stream, "fast-import", "--quiet", "--force")
	gitRun(b, "", "-C", s.cliClone, "push", "-q", "origin", "refs/heads/bench:refs/heads/main")
	took := time.Since(t0).Seconds()
	requireRemoteHead(b, s.cli, gitRun(b, "", "-C", s.cliClone, "rev-parse", "refs/heads/bench"))
	return took
}

// cpuTime is the user and system CPU time of who, in seconds.
func cpuTime(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// oneChange is a commit that rewrites file i with content no revision had.
func oneChange(f fixture, i int, msg string) []gitrepo.Commit {
	content := append(f.content(i, -1), fmt.Sprintf("# %s %d\n", msg, time.Now().UnixNano())...)
	return []gitrepo.Commit{{
		Changes:   []gitrepo.Change{{Path: f.path(i), Content: content}},
		Committer: benchSig,
		Message:   msg,
	}}
}

func reportStartUp(b *testing.B, base, ours []startUp) {
	rows := []struct {
		what string
		v    func(startUp) float64
	}{
		{"clone: gitrepo.Open into an empty Dir / git clone --bare", func(s startUp) float64 { return s.clone }},
		{"first commit + push of one file, reading all paths: Apply / read-tree, update-index, write-tree, commit-tree, push", func(s startUp) float64 { return s.commit }},
		{"**start-up total**", startUp.total},
	}
	fmt.Printf("\nStart-up against a file:// remote of %s (~300 B files, %d namespaces × %d folders), median of %d runs; baseline: git CLI %s:\n\n",
		largeRepo, largeRepo.namespaces, len(resourceFolders), largeRuns, gitVersion(b))
	fmt.Printf("| what | %s (s) | baseline (s) | ratio |\n|---|---:|---:|---:|\n", largeRepo)
	for _, row := range rows {
		o, c := medianBy(ours, row.v), medianBy(base, row.v)
		fmt.Printf("| %s | %.2f | %.2f | %.2fx |\n", row.what, o, c, o/c)
	}
	o, c := medianBy(ours, startUp.total), medianBy(base, startUp.total)
	b.ReportMetric(o, "startup-s")
	b.ReportMetric(o/c, "startup-x-git-cli")
}

func reportSteadyState(b *testing.B, large, small []steadyCost) {
	rows := []struct {
		what string
		v    func(steadyCost) float64
	}{
		{"gitrepo Apply: fetch, one-file commit, push (wall)", func(c steadyCost) float64 { return c.wall }},
		{"… CPU in this process (gitrepo, go-git)", func(c steadyCost) float64 { return c.self }},
		{"… CPU in the git processes it ran (upload-pack, receive-pack, theirs)", func(c steadyCost) float64 { return c.children }},
		{"baseline: git CLI fetch, fast-import one-file commit, push (wall)", func(c steadyCost) float64 { return c.cli }},
	}
	fmt.Printf("\nSteady state: one-file commit and push after Open, mean of %d, median of %d runs, %s against %s:\n\n",
		steadyApplies, largeRuns, largeRepo, smallRepo)
	fmt.Printf("| what | %s (ms) | %s (ms) | ratio |\n|---|---:|---:|---:|\n", largeRepo, smallRepo)
	ratios := make([]float64, len(rows))
	for i, row := range rows {
		l, s := medianBy(large, row.v), medianBy(small, row.v)
		ratios[i] = l / s
		fmt.Printf("| %s | %.1f | %.1f | %.2fx |\n", row.what, l*1000, s*1000, ratios[i])
	}
	fmt.Printf("\nThe remote's git receive-pack checks connectivity by walking the whole tree of the old head " +
		"(rev-list --objects --not --all), so that part follows the repository size whatever the client; the git CLI pays it too.\n\n")
	b.ReportMetric(medianBy(large, rows[0].v)*1000, "steady-ms/apply")
	b.ReportMetric(ratios[0], "steady-x-small-repo")
	b.ReportMetric(ratios[1], "steady-cpu-x-small-repo")
	b.ReportMetric(ratios[3], "cli-steady-x-small-repo")
}

// medianBy is the median of v over the runs.
func medianBy[T any](runs []T, v func(T) float64) float64 {
	xs := make([]float64, len(runs))
	for i, r := range runs {
		xs[i] = v(r)
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func closeRepo(b *testing.B, r *gitrepo.Repo) {
	b.Helper()
	if err := r.Close(); err != nil {
		b.Fatalf("Close: %v", err)
	}
}

// requireRemoteHead fails unless the remote's main is at want: the push landed.
func requireRemoteHead(b *testing.B, remote, want string) {
	b.Helper()
	if got := gitRun(b, "", "-C", remote, "rev-parse", "main"); got != want {
		b.Fatalf("remote main is at %s, want %s", got, want)
	}
}

func gitVersion(b *testing.B) string {
	return strings.TrimPrefix(gitRun(b, "", "version"), "git version ")
}

// gitRun runs git with extra environment ("K=V K=V", may be empty) and
// returns its trimmed stdout.
func gitRun(b *testing.B, env string, args ...string) string {
	b.Helper()
	return execGit(b, env, "", args...)
}

// gitRunIn runs git in dir with stdin.
func gitRunIn(b *testing.B, dir, stdin string, args ...string) string {
	b.Helper()
	return execGit(b, "", stdin, append([]string{"-C", dir}, args...)...)
}

func execGit(b *testing.B, env, stdin string, args ...string) string {
	b.Helper()
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), strings.Fields(env)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}
