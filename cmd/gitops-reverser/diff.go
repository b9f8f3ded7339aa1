package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/oneshot"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// exitStatus ends a command with a status of its own: diff's 1 (differences) and 2 (error),
// as flux diff.
type exitStatus struct {
	code int
	err  error // nil: nothing more to print
}

func (e *exitStatus) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitStatus) Unwrap() error { return e.err }

func diffCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if err := runDiff(ctx, args, stdout, stderr); err != nil {
		if errors.Is(err, oneshot.ErrDifferent) {
			return &exitStatus{code: 1}
		}
		if errors.Is(err, errUsageShown) {
			return err
		}
		return &exitStatus{code: 2, err: err}
	}
	return nil
}

func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f readerFlags
	fs := pflag.NewFlagSet("diff", pflag.ContinueOnError)
	f.bind(fs, "compare")
	fs.StringVar(&f.output, "output", "", "how the files were written, Clean or Full (default Clean)")
	fs.BoolVar(&f.includeSystem, "include-system-objects", false, "also compare the objects the control plane maintains itself, of the resources --resources names")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "keep clones here between runs (default: a temporary directory, removed at the end)")
	var output snapshot.Output
	o, err := f.prepare(ctx, fs, args, stdout, stderr, func() (err error) {
		if output, err = snapshot.ParseOutput(f.output); err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		return nil
	})
	if err != nil || o == nil {
		return err
	}
	o.Output = output
	return oneshot.Diff(ctx, *o)
}

// readIdentities reads the X25519 age identities of a file, as sops reads SOPS_AGE_KEY_FILE.
func readIdentities(path string) ([]*age.X25519Identity, error) {
	if path == "" {
		return nil, nil
	}
	file, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--age-identity-file: %w", err)
	}
	defer file.Close()
	parsed, err := age.ParseIdentities(file)
	if err != nil {
		return nil, errors.New("--age-identity-file: not an age identity file")
	}
	var ids []*age.X25519Identity
	for _, id := range parsed {
		if x, ok := id.(*age.X25519Identity); ok {
			ids = append(ids, x)
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("--age-identity-file: no X25519 identity")
	}
	return ids, nil
}

// identityFromSecret reads the controller's age identity from the Secret namespace/name.
func identityFromSecret(ctx context.Context, cfg *rest.Config, ref string) (*age.X25519Identity, error) {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || ns == "" || name == "" {
		return nil, fmt.Errorf("--age-identity-secret %q: want namespace/name", ref)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	id, err := secrets.LoadIdentity(ctx, kube, ns, name)
	if err != nil {
		return nil, fmt.Errorf("--age-identity-secret: %w", err)
	}
	return id, nil
}
