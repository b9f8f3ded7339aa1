package gitserver

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Identity of the commits the helper itself makes (PushFile, PushFiles).
const (
	HelperName  = "Foreign Writer"
	HelperEmail = "foreign@example.com"
)

// Remote is a bare repository under a test's temporary directory.
type Remote struct {
	// Dir is the bare repository directory.
	Dir string
	// URL is Dir as a file:// URL.
	URL string

	home string // HOME for every git command, so no user or system config leaks in
}

// NewBare creates an empty bare repository whose HEAD points at
// refs/heads/<branch>.
func NewBare(t testing.TB, branch string) *Remote {
	t.Helper()
	root := t.TempDir()
	r := &Remote{
		Dir:  filepath.Join(root, "repo.git"),
		home: filepath.Join(root, "home"),
	}
	r.URL = "file://" + r.Dir
	if err := os.MkdirAll(r.home, 0o755); err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	r.git(t, root, "init", "--quiet", "--bare", "--initial-branch="+branch, r.Dir)
	return r
}

// Env is the hermetic environment the helper runs git with: HOME in a
// temporary directory, no system config, a fixed identity.
func (r *Remote) Env() []string {
	env := make([]string, 0, len(os.Environ())+10)
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GIT_") || strings.HasPrefix(kv, "HOME=") ||
			strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+r.home,
		"XDG_CONFIG_HOME="+filepath.Join(r.home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME="+HelperName,
		"GIT_AUTHOR_EMAIL="+HelperEmail,
		"GIT_COMMITTER_NAME="+HelperName,
		"GIT_COMMITTER_EMAIL="+HelperEmail,
	)
}

// git runs a git command in dir and returns its stdout; it fails the test on
// any error.
func (r *Remote) git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := r.tryGit(dir, nil, args...)
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	return out
}

// tryGit runs a git command in dir with optional stdin and returns its stdout.
func (r *Remote) tryGit(dir string, stdin []byte, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.Env()
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), &gitError{args: args, err: err, stderr: stderr.String()}
	}
	return stdout.String(), nil
}

type gitError struct {
	args   []string
	err    error
	stderr string
}

func (e *gitError) Error() string {
	return "git " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + strings.TrimSpace(e.stderr)
}

func (e *gitError) Unwrap() error { return e.err }
