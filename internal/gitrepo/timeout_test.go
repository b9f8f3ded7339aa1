package gitrepo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

// TestPushTimeoutFollowsProgress: the timeout bounds a push that makes no progress, not one
// whose pack takes time. The remote takes two seconds to accept every push and the timeout is
// one: a small push fails, a push of 1 MiB of objects gets the time to send and check them.
func TestPushTimeoutFollowsProgress(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL, Timeout: time.Second})
	apply(t, r, static(gitrepo.Commit{Changes: diff.Changeset{add("a.yaml", "a: 1\n")}, Author: committer, Committer: committer, Message: "first"}))
	remote.SlowPushes(t, 2*time.Second)

	_, err := r.Apply(context.Background(), static(gitrepo.Commit{Changes: diff.Changeset{add("b.yaml", "b: 1\n")}, Author: committer, Committer: committer, Message: "small"}))
	if err == nil || !strings.Contains(err.Error(), "no progress") {
		t.Errorf("small push to a remote silent for twice the timeout: %v, want a no-progress error", err)
	}

	var big diff.Changeset
	for i := range 64 {
		buf := make([]byte, 8<<10) // random: the pack cannot compress it
		_, _ = rand.Read(buf)
		big = append(big, add(fmt.Sprintf("big/%02d.yaml", i), hex.EncodeToString(buf)+"\n"))
	}
	if _, err := r.Apply(context.Background(), static(gitrepo.Commit{Changes: big, Author: committer, Committer: committer, Message: "big"})); err != nil {
		t.Fatalf("1 MiB push: %v", err)
	}
	if got := len(remote.Files(t, "main")); got != 65 {
		t.Errorf("remote has %d files, want 65", got)
	}
}
