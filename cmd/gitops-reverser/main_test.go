package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testutil/kubetest"
)

// env is the control plane shared by the tests of this package.
var env *kubetest.Env

// mainEnv makes the test binary act as the gitops-reverser binary, for exit-status tests.
const mainEnv = "GITOPS_REVERSER_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		main()
		os.Exit(0)
	}
	kubetest.Main(m, &env)
}

// kubeconfig writes a kubeconfig for the test control plane, as a user would have one.
func kubeconfig(t *testing.T, namespace string) string { return kubeconfigOf(t, env, namespace) }

// kubeconfigOf writes a kubeconfig for control plane e.
func kubeconfigOf(t *testing.T, e *kubetest.Env, namespace string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := e.WriteKubeconfig(p, namespace); err != nil {
		t.Fatal(err)
	}
	return p
}

// cli runs the command in-process as main does, returning stdout, stderr and the error that
// main turns into exit status 1.
func cli(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// gitOut runs the git CLI in dir.
func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestVersionAndUsage(t *testing.T) {
	out, _, err := cli(t, "version")
	if err != nil || !strings.HasPrefix(out, "gitops-reverser ") || !strings.Contains(out, "go1.") || !strings.Contains(out, "commit") {
		t.Errorf("version = %q, %v", out, err)
	}
	if _, _, err := cli(t, "frobnicate"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Errorf("unknown command: %v", err)
	}
	// Environment variables set flags; the command line wins.
	t.Setenv("GITOPS_REVERSER_LOG_FORMAT", "yaml")
	if _, _, err := cli(t, "snapshot", "--repo", "x"); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("env GITOPS_REVERSER_LOG_FORMAT=yaml not applied: %v", err)
	}
	if _, _, err := cli(t, "run", "--log-format", "json", "--resync-schedule", "nonsense"); err == nil || !strings.Contains(err.Error(), "--resync-schedule") {
		t.Errorf("the flag must win over the env (then the schedule is what fails): %v", err)
	}
}
