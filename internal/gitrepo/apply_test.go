package gitrepo_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

func TestFirstApplyOnEmptyRemote(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})
	alice := gitrepo.Signature{Name: "alice", Email: "alice@cluster.local"}
	c := gitrepo.Commit{
		Changes: []gitrepo.Change{
			add("_cluster/namespaces/default.yaml", "kind: Namespace\n"),
			add("default/configmaps/app.yaml", "kind: ConfigMap\n"),
		},
		Author:    alice,
		Committer: committer,
		Message:   "[CHANGE] 2 objects\n\n[CREATE] _cluster/namespaces/default\n[CREATE] default/configmaps/app",
	}

	res := apply(t, r, static(c))

	wantFiles := map[string]string{
		"_cluster/namespaces/default.yaml": "kind: Namespace\n",
		"default/configmaps/app.yaml":      "kind: ConfigMap\n",
	}
	if diff := cmp.Diff(wantFiles, remote.Files(t, "main")); diff != "" {
		t.Errorf("remote files (-want +got):\n%s", diff)
	}
	head := remote.Head(t, "main")
	wantLog := []gitserver.Commit{{
		Hash:          head,
		Subject:       "[CHANGE] 2 objects",
		Body:          "[CREATE] _cluster/namespaces/default\n[CREATE] default/configmaps/app",
		AuthorName:    "alice",
		AuthorEmail:   "alice@cluster.local",
		CommitterName: committer.Name, CommitterEmail: committer.Email,
	}}
	if diff := cmp.Diff(wantLog, remote.Log(t, "main")); diff != "" {
		t.Errorf("remote log (-want +got):\n%s", diff)
	}
	wantRes := gitrepo.Result{Head: plumbing.NewHash(head), Commits: 1, Attempts: 1}
	if diff := cmp.Diff(wantRes, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	remote.Fsck(t)

	_, err := r.Apply(context.Background(), static(c))
	if !errors.Is(err, gitrepo.ErrNothingToCommit) {
		t.Fatalf("second Apply: err = %v, want ErrNothingToCommit", err)
	}
	if got := remote.Count(t, "main"); got != 1 {
		t.Errorf("commits after the second Apply = %d, want 1", got)
	}
}

func TestApplyAddUpdateDelete(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	remote.PushFiles(t, "main", map[string]string{
		"README.md":           "hello\n",
		"ns/cm/one.yaml":      "one\n",
		"ns/cm/two.yaml":      "two\n",
		"ns/secrets/s.yaml":   "only file of its folder\n",
		"other/deep/x/y.yaml": "deep\n",
	}, "seed")
	before := remote.Blobs(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})

	apply(t, r, static(commit("edit",
		put("ns/cm/one.yaml", "one v2\n"),
		del("ns/secrets/s.yaml"),
		add("ns/deploy/web.yaml", "web\n"),
		del("other/deep/x/y.yaml"),
		del("not/there.yaml"),
	)))

	want := map[string]string{
		"README.md":          "hello\n",
		"ns/cm/one.yaml":     "one v2\n",
		"ns/cm/two.yaml":     "two\n",
		"ns/deploy/web.yaml": "web\n",
	}
	if diff := cmp.Diff(want, remote.Files(t, "main")); diff != "" {
		t.Errorf("remote files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"README.md", "ns/"}, remote.Entries(t, "main", "")); diff != "" {
		t.Errorf("root entries (-want +got) — emptied folders must go:\n%s", diff)
	}
	if diff := cmp.Diff([]string{"cm/", "deploy/"}, remote.Entries(t, "main", "ns")); diff != "" {
		t.Errorf("ns entries (-want +got):\n%s", diff)
	}
	after := remote.Blobs(t, "main")
	for _, p := range []string{"README.md", "ns/cm/two.yaml"} {
		if before[p] != after[p] {
			t.Errorf("blob of unchanged %s moved from %s to %s", p, before[p], after[p])
		}
	}
	if got := remote.Count(t, "main"); got != 2 {
		t.Errorf("commits = %d, want 2", got)
	}
	remote.Fsck(t)
}

func TestApplyNothingToCommit(t *testing.T) {
	tests := []struct {
		name    string
		commits []gitrepo.Commit
	}{
		{name: "no commits"},
		{name: "empty changeset", commits: []gitrepo.Commit{commit("empty")}},
		{name: "same content", commits: []gitrepo.Commit{commit("same", put("a/b.yaml", "b\n"))}},
		{name: "delete of a missing file", commits: []gitrepo.Commit{commit("gone", del("a/missing.yaml"))}},
		{name: "delete of a folder is not a file delete", commits: []gitrepo.Commit{commit("dir", del("a"))}},
		{name: "several no-op commits", commits: []gitrepo.Commit{
			commit("one", put("a/b.yaml", "b\n")), commit("two", del("x.yaml")),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote := gitserver.NewBare(t, "main")
			head := remote.PushFile(t, "main", "a/b.yaml", "b\n", "seed")
			r := open(t, gitrepo.Options{URL: remote.URL})

			res, err := r.Apply(context.Background(), static(tc.commits...))

			if !errors.Is(err, gitrepo.ErrNothingToCommit) {
				t.Fatalf("err = %v, want ErrNothingToCommit", err)
			}
			if res.Commits != 0 || res.Head.String() != head {
				t.Errorf("result = %+v, want no commits and head %s", res, head)
			}
			if got := remote.Head(t, "main"); got != head {
				t.Errorf("remote head moved to %s", got)
			}
		})
	}
}

func TestApplyNoopCommitOnEmptyRemote(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})

	_, err := r.Apply(context.Background(), static(commit("nothing", del("a.yaml"))))

	if !errors.Is(err, gitrepo.ErrNothingToCommit) {
		t.Fatalf("err = %v, want ErrNothingToCommit", err)
	}
	if got := remote.Branches(t); len(got) != 0 {
		t.Errorf("branches = %v, want none", got)
	}
}

func TestApplyEmptyRootCommitCreatesBranch(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})

	apply(t, r, static(commit("first")))

	if got := remote.Count(t, "main"); got != 1 {
		t.Fatalf("commits = %d, want the empty root commit", got)
	}
	if files := remote.Files(t, "main"); len(files) != 0 {
		t.Errorf("files = %v, want none", files)
	}
}

func TestApplyCreatesMissingBranch(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	otherHead := remote.PushFile(t, "main", "main.txt", "main\n", "main work")
	r := open(t, gitrepo.Options{URL: remote.URL, Branch: "gitops"})

	apply(t, r, static(commit("first", add("a.yaml", "a\n"))))

	if diff := cmp.Diff(map[string]string{"a.yaml": "a\n"}, remote.Files(t, "gitops")); diff != "" {
		t.Errorf("gitops files (-want +got):\n%s", diff)
	}
	log := remote.Log(t, "gitops")
	if len(log) != 1 || log[0].Parents != nil {
		t.Errorf("gitops log = %+v, want one root commit", log)
	}
	if got := remote.Head(t, "main"); got != otherHead {
		t.Errorf("main moved from %s to %s", otherHead, got)
	}
}

func TestApplyRebuildsAfterForeignCommit(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	remote.PushFile(t, "main", "ns/cm/a.yaml", "a\n", "seed")
	r := open(t, gitrepo.Options{URL: remote.URL})
	foreign := remote.PushFile(t, "main", "ns/cm/foreign.yaml", "theirs\n", "foreign change")

	var heads []string
	var sawForeignFile []bool
	build := func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		heads = append(heads, head.Hash().String())
		_, ok, err := head.Read("ns/cm/foreign.yaml")
		if err != nil {
			return nil, err
		}
		sawForeignFile = append(sawForeignFile, ok)
		return []gitrepo.Commit{commit("mine", add("ns/cm/mine.yaml", "mine\n"))}, nil
	}

	res := apply(t, r, build)

	if len(heads) != 2 || heads[1] != foreign {
		t.Fatalf("build saw heads %v, want two calls, the second at the foreign commit %s", heads, foreign)
	}
	if diff := cmp.Diff([]bool{false, true}, sawForeignFile); diff != "" {
		t.Errorf("build saw the foreign file (-want +got):\n%s", diff)
	}
	if res.Attempts != 2 || res.Commits != 1 {
		t.Errorf("result = %+v, want 2 attempts and 1 commit", res)
	}
	head := remote.Head(t, "main")
	if !remote.IsAncestor(t, foreign, head) {
		t.Errorf("foreign commit %s is not an ancestor of the new head %s", foreign, head)
	}
	want := map[string]string{"ns/cm/a.yaml": "a\n", "ns/cm/foreign.yaml": "theirs\n", "ns/cm/mine.yaml": "mine\n"}
	if diff := cmp.Diff(want, remote.Files(t, "main")); diff != "" {
		t.Errorf("remote files (-want +got):\n%s", diff)
	}
}

func TestApplyFetchesBeforeBuilding(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})
	apply(t, r, static(commit("first", add("a.yaml", "a\n"))))
	foreign := remote.PushFile(t, "main", "b.yaml", "b\n", "foreign")

	calls := 0
	res := apply(t, r, func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		calls++
		if head.Hash().String() != foreign {
			t.Errorf("build saw head %s, want the foreign commit %s", head.Hash(), foreign)
		}
		return []gitrepo.Commit{commit("second", add("c.yaml", "c\n"))}, nil
	})

	if calls != 1 || res.Attempts != 1 {
		t.Errorf("build calls = %d, attempts = %d; want 1 and 1", calls, res.Attempts)
	}
	if got := remote.Count(t, "main"); got != 3 {
		t.Errorf("commits = %d, want 3", got)
	}
}

func TestApplyGivesUpWhenTheBranchKeepsMoving(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	remote.PushFile(t, "main", "a.yaml", "a\n", "seed")
	r := open(t, gitrepo.Options{URL: remote.URL, MaxAttempts: 3})

	calls := 0
	res, err := r.Apply(context.Background(), func(context.Context, gitrepo.Head) ([]gitrepo.Commit, error) {
		calls++
		remote.PushFile(t, "main", "race.yaml", fmt.Sprint(calls), "another writer wins")
		return []gitrepo.Commit{commit("mine", add("mine.yaml", "mine\n"))}, nil
	})

	if !errors.Is(err, gitrepo.ErrConflict) {
		t.Fatalf("err = %v, want ErrConflict", err)
	}
	if calls != 3 || res.Attempts != 3 {
		t.Errorf("build calls = %d, attempts = %d; want 3 and 3", calls, res.Attempts)
	}
	if _, ok := remote.Files(t, "main")["mine.yaml"]; ok {
		t.Errorf("mine.yaml reached the remote although every push lost")
	}
}

func TestApplySeveralCommitsInOrder(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})
	alice := gitrepo.Signature{Name: "alice", Email: "alice@example.com"}
	bob := gitrepo.Signature{Name: "bob", Email: "bob@example.com"}
	commits := []gitrepo.Commit{
		{Changes: []gitrepo.Change{add("a.yaml", "a\n")}, Author: alice, Committer: committer, Message: "by alice"},
		{Changes: []gitrepo.Change{put("a.yaml", "a\n")}, Author: bob, Committer: committer, Message: "no-op, skipped"},
		{Changes: []gitrepo.Change{put("a.yaml", "a2\n"), add("b.yaml", "b\n")}, Author: bob, Committer: committer,
			Message: "by bob"},
	}

	res := apply(t, r, static(commits...))

	if res.Commits != 2 {
		t.Errorf("commits made = %d, want 2", res.Commits)
	}
	log := remote.Log(t, "main")
	got := make([]string, len(log))
	for i, c := range log {
		got[i] = c.Subject + " / " + c.AuthorName + " / " + c.CommitterName
	}
	want := []string{"by bob / bob / gitops-reverser", "by alice / alice / gitops-reverser"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("log, newest first (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"a.yaml": "a2\n", "b.yaml": "b\n"}, remote.Files(t, "main")); diff != "" {
		t.Errorf("remote files (-want +got):\n%s", diff)
	}
}

func TestApplyRejectsInvalidCommits(t *testing.T) {
	tests := []struct {
		name   string
		commit gitrepo.Commit
	}{
		{name: "absolute path", commit: commit("m", add("/etc/passwd", "x"))},
		{name: "dot dot", commit: commit("m", add("a/../b.yaml", "x"))},
		{name: "empty segment", commit: commit("m", add("a//b.yaml", "x"))},
		{name: "git dir", commit: commit("m", add(".git/config", "x"))},
		{name: "trailing slash", commit: commit("m", add("a/", "x"))},
		{name: "no committer", commit: gitrepo.Commit{Changes: []gitrepo.Change{add("a", "x")}, Message: "m"}},
		{name: "no message", commit: commit("", add("a.yaml", "x"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			remote := gitserver.NewBare(t, "main")
			r := open(t, gitrepo.Options{URL: remote.URL})

			_, err := r.Apply(context.Background(), static(tc.commit))

			if !errors.Is(err, gitrepo.ErrInvalidCommit) {
				t.Fatalf("err = %v, want ErrInvalidCommit", err)
			}
			if got := remote.Count(t, "main"); got != 0 {
				t.Errorf("remote has %d commits, want none", got)
			}
		})
	}
}

func TestApplyReturnsBuildError(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})
	boom := errors.New("boom")

	_, err := r.Apply(context.Background(), func(context.Context, gitrepo.Head) ([]gitrepo.Commit, error) {
		return nil, boom
	})

	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the build error", err)
	}
}

func TestHeadReadsTheBranch(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	remote.PushFiles(t, "main", map[string]string{
		"base/ns/cm/a.yaml": "a\n",
		"base/ns/cm/b.yaml": "b\n",
		"base2/x.yaml":      "x\n",
		"README.md":         "readme\n",
	}, "seed")
	blobs := remote.Blobs(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})

	_, err := r.Apply(context.Background(), func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		if head.Hash().String() != remote.Head(t, "main") {
			t.Errorf("Hash = %s, want the remote head", head.Hash())
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{prefix: "", want: []string{"README.md", "base/ns/cm/a.yaml", "base/ns/cm/b.yaml", "base2/x.yaml"}},
			{prefix: "base", want: []string{"base/ns/cm/a.yaml", "base/ns/cm/b.yaml"}},
			{prefix: "base/", want: []string{"base/ns/cm/a.yaml", "base/ns/cm/b.yaml"}},
			{prefix: "missing"},
			{prefix: "README.md"},
		} {
			files, err := head.Files(tc.prefix)
			if err != nil {
				t.Fatalf("Files(%q): %v", tc.prefix, err)
			}
			want := gitrepo.Files{}
			for _, p := range tc.want {
				want[p] = plumbing.NewHash(blobs[p])
			}
			if diff := cmp.Diff(want, files); diff != "" {
				t.Errorf("Files(%q) (-want +got):\n%s", tc.prefix, diff)
			}
		}
		for _, tc := range []struct {
			path   string
			want   string
			wantOK bool
		}{
			{path: "base/ns/cm/a.yaml", want: "a\n", wantOK: true},
			{path: "base/ns/cm/nope.yaml"},
			{path: "base/ns"},
			{path: "README.md/x"},
		} {
			got, ok, err := head.Read(tc.path)
			if err != nil || ok != tc.wantOK || string(got) != tc.want {
				t.Errorf("Read(%q) = %q, %v, %v; want %q, %v, nil", tc.path, got, ok, err, tc.want, tc.wantOK)
			}
		}
		return nil, nil
	})
	if !errors.Is(err, gitrepo.ErrNothingToCommit) {
		t.Fatalf("err = %v, want ErrNothingToCommit", err)
	}
}

func TestHeadOfMissingBranchIsEmpty(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})

	_, err := r.Apply(context.Background(), func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		files, err := head.Files("")
		_, ok, rerr := head.Read("a.yaml")
		if !head.Hash().IsZero() || err != nil || len(files) != 0 || ok || rerr != nil {
			t.Errorf("head of a missing branch: hash %s, files %v (%v), read ok %v (%v)",
				head.Hash(), files, err, ok, rerr)
		}
		return nil, nil
	})
	if !errors.Is(err, gitrepo.ErrNothingToCommit) {
		t.Fatalf("err = %v, want ErrNothingToCommit", err)
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	const writers, perWriter = 2, 4
	repos := make([]*gitrepo.Repo, writers)
	for i := range repos {
		repos[i] = open(t, gitrepo.Options{URL: remote.URL, MaxAttempts: 20})
	}

	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w, r := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				path := fmt.Sprintf("w%d/f%d.yaml", w, i)
				_, err := r.Apply(context.Background(), static(commit(path, add(path, path))))
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)

	for err := range errs {
		if err != nil {
			t.Errorf("Apply: %v", err)
		}
	}
	if got := len(remote.Files(t, "main")); got != writers*perWriter {
		t.Errorf("remote has %d files, want %d", got, writers*perWriter)
	}
	if got := remote.Count(t, "main"); got != writers*perWriter {
		t.Errorf("remote has %d commits, want %d", got, writers*perWriter)
	}
	remote.Fsck(t)
}

func TestViewSeesTheRemoteHead(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})
	head := remote.PushFile(t, "main", "a.yaml", "a\n", "after Open")

	var got string
	var content []byte
	err := r.View(context.Background(), func(_ context.Context, h gitrepo.Head) error {
		got = h.Hash().String()
		var err error
		content, _, err = h.Read("a.yaml")
		return err
	})

	if err != nil {
		t.Fatalf("View: %v", err)
	}
	if got != head || string(content) != "a\n" {
		t.Errorf("View saw %s with a.yaml %q, want %s with %q", got, content, head, "a\n")
	}
	if n := remote.Count(t, "main"); n != 1 {
		t.Errorf("View made commits: %d, want 1", n)
	}
}

// TestApplyBurstOfCommits makes one commit per change in one Apply, far more than a chain of
// deltas may hold, in the directories they share, and then another Apply on top: the remote
// (or local repository) checks out exactly the expected files and passes fsck, in every mode
// of clone.
func TestApplyBurstOfCommits(t *testing.T) {
	for _, mode := range []string{"memory", "disk", "local"} {
		t.Run(mode, func(t *testing.T) {
			remote := gitserver.NewBare(t, "main")
			remote.PushFiles(t, "main", map[string]string{"ns/configmaps/seed.yaml": "seed\n", "other/x.yaml": "x\n"}, "seed")
			opts := gitrepo.Options{URL: remote.URL}
			switch mode {
			case "disk":
				opts.Dir = t.TempDir()
			case "local":
				opts.URL = remote.Dir
			}
			r := open(t, opts)
			want := map[string]string{"ns/configmaps/seed.yaml": "seed\n", "other/x.yaml": "x\n"}
			var commits []gitrepo.Commit
			for i := range 400 { // over 1000 objects: a clone on disk takes the pack as files
				p := fmt.Sprintf("ns/configmaps/cm-%03d.yaml", i)
				switch {
				case i%10 == 9 && want[fmt.Sprintf("ns/configmaps/cm-%03d.yaml", i-5)] != "": // delete an earlier one
					old := fmt.Sprintf("ns/configmaps/cm-%03d.yaml", i-5)
					commits = append(commits, commit("delete", del(old)))
					delete(want, old)
				case i%7 == 6: // update an earlier one, in another folder too
					old := fmt.Sprintf("ns/configmaps/cm-%03d.yaml", i-3)
					commits = append(commits, commit("update", put(old, "updated\n"), add(fmt.Sprintf("ns%d/secrets/s.yaml", i), "s\n")))
					want[old], want[fmt.Sprintf("ns%d/secrets/s.yaml", i)] = "updated\n", "s\n"
				default:
					commits = append(commits, commit("add", add(p, fmt.Sprintf("name: cm-%d\n", i))))
					want[p] = fmt.Sprintf("name: cm-%d\n", i)
				}
			}
			if res := apply(t, r, static(commits...)); res.Commits != len(commits) {
				t.Fatalf("commits = %d, want %d", res.Commits, len(commits))
			}
			apply(t, r, static(commit("after", add("ns/configmaps/after.yaml", "after\n"), del("other/x.yaml"))))
			want["ns/configmaps/after.yaml"] = "after\n"
			delete(want, "other/x.yaml")
			if diff := cmp.Diff(want, remote.Files(t, "main")); diff != "" {
				t.Errorf("files (-want +got):\n%s", diff)
			}
			if got := remote.Count(t, "main"); got != len(commits)+2 {
				t.Errorf("commits on main = %d, want %d", got, len(commits)+2)
			}
			remote.Fsck(t)
		})
	}
}

// TestApplyBlobsStoredByTheBuild: a build may store contents as it goes (Head.Blob) and name
// only their hashes; a file it names by a blob the head already holds needs nothing stored.
// A head that is only viewed stores nothing.
func TestApplyBlobsStoredByTheBuild(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	remote.PushFiles(t, "main", map[string]string{"ns/cm/kept.yaml": "same\n"}, "seed")
	r := open(t, gitrepo.Options{URL: remote.URL})
	apply(t, r, func(_ context.Context, head gitrepo.Head) ([]gitrepo.Commit, error) {
		h, err := head.Blob([]byte("stored\n"))
		if err != nil {
			return nil, err
		}
		files, err := head.Files("")
		if err != nil {
			return nil, err
		}
		return []gitrepo.Commit{commit("blobs",
			gitrepo.Change{Path: "ns/cm/new.yaml", Blob: h},
			gitrepo.Change{Path: "ns/cm/copy.yaml", Blob: files["ns/cm/kept.yaml"]},
		)}, nil
	})
	want := map[string]string{"ns/cm/kept.yaml": "same\n", "ns/cm/new.yaml": "stored\n", "ns/cm/copy.yaml": "same\n"}
	if diff := cmp.Diff(want, remote.Files(t, "main")); diff != "" {
		t.Errorf("remote files (-want +got):\n%s", diff)
	}
	remote.Fsck(t)
	err := r.View(context.Background(), func(_ context.Context, head gitrepo.Head) error {
		_, err := head.Blob([]byte("x\n"))
		return err
	})
	if err == nil {
		t.Error("Blob on a viewed head succeeded, want it refused")
	}
}
