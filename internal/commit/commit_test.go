package commit

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
)

var committer = gitrepo.Signature{Name: "gitops-reverser", Email: "gitops-reverser@cluster.local"}

// TestBatches: a batch is one commit by its author with the trailer (one per change with a
// window of 0); unknown authors are the committer, without a trailer; events that change
// nothing are left out, and so is a batch left empty.
func TestBatches(t *testing.T) {
	now := time.Now()
	p := NewPending()
	p.Add(Event{Path: "clusters/a/shop/configmaps/x.yaml", Content: []byte("x"), Author: "Jane Doe"}, now)
	p.Add(Event{Path: "clusters/a/shop/configmaps/y.yaml", Author: "Jane Doe"}, now)
	p.Add(Event{Path: "clusters/a/shop/configmaps/z.yaml", Content: []byte("z")}, now)
	p.Add(Event{Path: "clusters/a/shop/configmaps/same.yaml", Content: []byte("s"), Author: "bot"}, now)
	batches := p.Take(now, 0, true)
	changeOf := func(ev Event) (diff.Change, bool) {
		switch {
		case ev.Path == "clusters/a/shop/configmaps/same.yaml":
			return diff.Change{}, false
		case ev.Content == nil:
			return diff.Change{Path: ev.Path, Op: change.Delete}, true
		}
		return diff.Change{Path: ev.Path, Op: change.Create, Content: ev.Content}, true
	}
	type summary struct{ Author, Email, Message string }
	summarize := func(commits []gitrepo.Commit) map[string]summary {
		out := map[string]summary{}
		for _, c := range commits {
			out[c.Message] = summary{c.Author.Name, c.Author.Email, c.Message}
		}
		return out
	}
	style := Style{Committer: committer, BaseFolder: "clusters/a", Window: time.Second}
	commits, sets := style.Batches(batches, changeOf)
	want := map[string]summary{
		"[CHANGE] 2 objects\n\n[CREATE] shop/configmaps/x\n[DELETE] shop/configmaps/y\n\nKubernetes-User: Jane Doe": {"Jane Doe", "jane-doe@cluster.local", "[CHANGE] 2 objects\n\n[CREATE] shop/configmaps/x\n[DELETE] shop/configmaps/y\n\nKubernetes-User: Jane Doe"},
		"[CREATE] shop/configmaps/z": {"gitops-reverser", "gitops-reverser@cluster.local", "[CREATE] shop/configmaps/z"},
	}
	if diff := cmp.Diff(want, summarize(commits)); diff != "" || len(sets) != 2 {
		t.Errorf("window 1s (-want +got):\n%s", diff)
	}
	for _, c := range commits {
		for _, f := range c.Changes {
			if f.Delete != (f.Path == "clusters/a/shop/configmaps/y.yaml") {
				t.Errorf("%s: Delete = %v", f.Path, f.Delete)
			}
		}
	}

	style.Window = 0
	commits, _ = style.Batches(batches, changeOf)
	if len(commits) != 3 {
		t.Errorf("window 0: %d commits, want one per change (3)", len(commits))
	}

	rc := style.Reconcile(diff.Changeset{{Path: "clusters/a/shop/configmaps/x.yaml", Op: change.Update, Content: []byte("x")}})
	if rc.Author != committer || rc.Message != "reconcile: 0 added, 1 updated, 0 deleted\n\n[UPDATE] shop/configmaps/x" {
		t.Errorf("reconcile commit = %+v", rc)
	}
}
