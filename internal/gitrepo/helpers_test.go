package gitrepo_test

import (
	"context"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
)

var committer = gitrepo.Signature{Name: "gitops-reverser", Email: "gitops-reverser@cluster.local"}

func put(path, content string) gitrepo.Change {
	return gitrepo.Change{Path: path, Content: []byte(content)}
}

func add(path, content string) gitrepo.Change {
	return gitrepo.Change{Path: path, Content: []byte(content)}
}

func del(path string) gitrepo.Change {
	return gitrepo.Change{Path: path, Delete: true}
}

// commit is a commit by the committer with the given message and changes.
func commit(message string, changes ...gitrepo.Change) gitrepo.Commit {
	return gitrepo.Commit{Changes: changes, Committer: committer, Message: message}
}

// static builds the same commits whatever the head.
func static(commits ...gitrepo.Commit) gitrepo.BuildFunc {
	return func(context.Context, gitrepo.Head) ([]gitrepo.Commit, error) {
		return commits, nil
	}
}

func open(t testing.TB, opts gitrepo.Options) *gitrepo.Repo {
	t.Helper()
	r, err := gitrepo.Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return r
}

func apply(t testing.TB, r *gitrepo.Repo, build gitrepo.BuildFunc) gitrepo.Result {
	t.Helper()
	res, err := r.Apply(context.Background(), build)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	return res
}
