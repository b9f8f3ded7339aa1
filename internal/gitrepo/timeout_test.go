package gitrepo_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

// TestPushTimeoutFollowsProgress: the timeout bounds a push that makes no progress, not one
// whose pack takes time. The remote takes two seconds to accept every push and the timeout is
// one: a small push fails, a push of 1 MiB of objects gets the time to send and check them.
func TestPushTimeoutFollowsProgress(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL, Timeout: time.Second})
	apply(t, r, static(gitrepo.Commit{Changes: []gitrepo.Change{add("a.yaml", "a: 1\n")}, Author: committer, Committer: committer, Message: "first"}))
	remote.SlowPushes(t, 2*time.Second)

	_, err := r.Apply(context.Background(), static(gitrepo.Commit{Changes: []gitrepo.Change{add("b.yaml", "b: 1\n")}, Author: committer, Committer: committer, Message: "small"}))
	if err == nil || !strings.Contains(err.Error(), "no progress") {
		t.Errorf("small push to a remote silent for twice the timeout: %v, want a no-progress error", err)
	}

	var big []gitrepo.Change
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

// TestCancelDuringLocalPush: a push to a file:// remote cancelled while git index-pack reads
// its pack runs to its end and returns (go-git would otherwise wait forever,
// go-git/go-git#614, or kill git while it holds the branch's lock), and later pushes work. A
// SIGTERM during a burst does this.
func TestCancelDuringLocalPush(t *testing.T) {
	remote := gitserver.NewBare(t, "main")
	r := open(t, gitrepo.Options{URL: remote.URL})
	apply(t, r, static(commit("first", add("a.yaml", "a: 1\n"))))

	var many []gitrepo.Change // about 20 MiB
	for i := range 20000 {
		many = append(many, add(fmt.Sprintf("many/%03d/%05d.yaml", i%100, i), strings.Repeat(rand.Text(), 40)+"\n"))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Apply(ctx, static(commit("many", many...)))
		done <- err
	}()
	arriving := func() bool {
		m, _ := filepath.Glob(filepath.Join(remote.Dir, "objects", "*incoming-*", "pack", "tmp_pack_*"))
		return len(m) > 0
	}
	for deadline := time.Now().Add(30 * time.Second); !arriving(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pack never started to arrive")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("cancelled push: %v, want it to run to its end", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a push cancelled while its pack was arriving did not return")
	}

	if got := len(remote.Files(t, "main")); got != 20001 {
		t.Errorf("remote has %d files, want 20001", got)
	}
	if locks, _ := filepath.Glob(filepath.Join(remote.Dir, "refs", "heads", "*.lock")); len(locks) > 0 {
		t.Errorf("the remote's branch is left locked: %v", locks)
	}
	apply(t, r, static(commit("after", add("b.yaml", "b: 1\n"))))
	remote.Fsck(t)
}
