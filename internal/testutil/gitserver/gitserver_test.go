package gitserver_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/gitserver"
)

func TestPushFilesAndInspect(t *testing.T) {
	r := gitserver.NewBare(t, "main")
	if got := r.Head(t, "main"); got != "" {
		t.Fatalf("Head of empty remote = %q, want empty", got)
	}
	if got := r.Count(t, "main"); got != 0 {
		t.Fatalf("Count of empty remote = %d, want 0", got)
	}

	first := r.PushFiles(t, "main", map[string]string{"a.txt": "A\n", "dir/b.txt": "B"}, "first\n\nbody line")
	second := r.PushFile(t, "main", "dir/b.txt", "B2", "second")

	if diff := cmp.Diff(map[string]string{"a.txt": "A\n", "dir/b.txt": "B2"}, r.Files(t, "main")); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
	want := []gitserver.Commit{
		{Hash: second, Subject: "second", AuthorName: gitserver.HelperName, AuthorEmail: gitserver.HelperEmail,
			CommitterName: gitserver.HelperName, CommitterEmail: gitserver.HelperEmail, Parents: []string{first}},
		{Hash: first, Subject: "first", Body: "body line", AuthorName: gitserver.HelperName,
			AuthorEmail: gitserver.HelperEmail, CommitterName: gitserver.HelperName,
			CommitterEmail: gitserver.HelperEmail},
	}
	if diff := cmp.Diff(want, r.Log(t, "main")); diff != "" {
		t.Errorf("Log (-want +got):\n%s", diff)
	}
	if got := r.Head(t, "main"); got != second {
		t.Errorf("Head = %q, want %q", got, second)
	}
	if got := r.Count(t, "main"); got != 2 {
		t.Errorf("Count = %d, want 2", got)
	}
	if !r.IsAncestor(t, first, second) || r.IsAncestor(t, second, first) {
		t.Errorf("IsAncestor gives the wrong order")
	}
	if diff := cmp.Diff([]string{"main"}, r.Branches(t)); diff != "" {
		t.Errorf("Branches (-want +got):\n%s", diff)
	}
}

func TestServeHTTP(t *testing.T) {
	r := gitserver.NewBare(t, "main")
	r.PushFile(t, "main", "a.txt", "A", "seed")
	url := r.ServeHTTP(t, "alice", "s3cret")

	tests := []struct {
		name       string
		user, pass string
		wantStatus int
	}{
		{name: "right credentials", user: "alice", pass: "s3cret", wantStatus: http.StatusOK},
		{name: "wrong password", user: "alice", pass: "nope", wantStatus: http.StatusUnauthorized},
		{name: "no credentials", wantStatus: http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, url+"/info/refs?service=git-upload-pack", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

func TestServeHTTPPushWithGitCLI(t *testing.T) {
	r := gitserver.NewBare(t, "main")
	url := r.ServeHTTP(t, "alice", "s3cret")
	authURL := strings.Replace(url, "http://", "http://alice:s3cret@", 1)

	work := t.TempDir()
	gitIn(t, r, work, "init", "--quiet", "--initial-branch=main")
	if err := os.WriteFile(filepath.Join(work, "x.txt"), []byte("X"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitIn(t, r, work, "add", "x.txt")
	gitIn(t, r, work, "commit", "--quiet", "-m", "over http")
	gitIn(t, r, work, "push", "--quiet", authURL, "HEAD:refs/heads/main")

	if diff := cmp.Diff(map[string]string{"x.txt": "X"}, r.Files(t, "main")); diff != "" {
		t.Errorf("Files (-want +got):\n%s", diff)
	}
}

func TestServeSSHWithGitCLI(t *testing.T) {
	r := gitserver.NewBare(t, "main")
	head := r.PushFile(t, "main", "a.txt", "A", "seed")
	s := r.ServeSSH(t)

	dir := t.TempDir()
	key := filepath.Join(dir, "id")
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(key, s.ClientKey, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(knownHosts, s.KnownHosts, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "ls-remote", s.URL, "refs/heads/main")
	cmd.Env = append(r.Env(), "GIT_SSH_COMMAND=ssh -F /dev/null -i "+key+
		" -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="+knownHosts)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git ls-remote over ssh: %v: %s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) == 0 || got[0] != head {
		t.Errorf("ls-remote = %q, want head %s", out, head)
	}
}

func gitIn(t *testing.T, r *gitserver.Remote, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
}
