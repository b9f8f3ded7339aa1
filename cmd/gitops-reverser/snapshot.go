package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/internal/commit"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/oneshot"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

type snapshotFlags struct {
	common
	repo          string
	branch        string
	baseFolder    string
	resources     []string
	namespaces    []string
	allNamespaces bool
	selector      string
	dryRun        bool
	cacheDir      string
	ageIdentity   string
	output        string
	includeSystem bool
}

func snapshotCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f snapshotFlags
	fs := pflag.NewFlagSet("snapshot", pflag.ContinueOnError)
	f.bind(fs)
	fs.StringVar(&f.repo, "repo", "", "standalone: repository URL or local path (a missing local path becomes a new repository); without it every GitDestination in the cluster is synced")
	fs.StringVar(&f.branch, "branch", "main", "standalone: branch to write")
	fs.StringVar(&f.baseFolder, "base-folder", "", "standalone: folder in the repository for the files")
	fs.StringSliceVar(&f.resources, "resources", nil, "standalone: resources to snapshot, plural[.group], comma-separated (default all)")
	fs.StringArrayVarP(&f.namespaces, "namespace", "n", nil, "standalone: namespace to snapshot (repeatable; default the kubeconfig's namespace)")
	fs.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "standalone: snapshot every namespace")
	fs.StringVarP(&f.selector, "selector", "l", "", "standalone: label selector")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the changeset and write nothing")
	fs.StringVar(&f.output, "output", "", "standalone: what files hold, Clean (the fields someone set, no server defaults) or Full (every field) (default Clean)")
	fs.BoolVar(&f.includeSystem, "include-system-objects", false, "standalone: also write the objects the control plane maintains itself (kube-root-ca.crt, the kubernetes Service, auto-updated RBAC, ...) of the resources --resources names")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "keep clones here between runs (default: a temporary directory, removed at the end)")
	fs.StringVar(&f.ageIdentity, "age-identity-secret", envOr("POD_NAMESPACE", "gitops-reverser")+"/gitops-reverser-age-identity",
		"namespace/name of the Secret with the controller's age identity, shared with `run`, for destinations that encrypt Secrets")
	cfg, log, err := f.prepare(fs, args, stdout, stderr, f.validateStandalone)
	if err != nil || cfg == nil {
		return err
	}
	if f.repo != "" && !f.allNamespaces && len(f.namespaces) == 0 {
		ns, _, err := f.clientConfig().Namespace()
		if err != nil {
			return fmt.Errorf("kubeconfig namespace: %w", err)
		}
		f.namespaces = []string{ns}
	}
	ns, name, ok := strings.Cut(f.ageIdentity, "/")
	if !ok || ns == "" || name == "" {
		return fmt.Errorf("--age-identity-secret %q: want namespace/name", f.ageIdentity)
	}
	identity := types.NamespacedName{Namespace: ns, Name: name}
	output, err := snapshot.ParseOutput(f.output)
	if err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	auth, err := authFromEnv()
	if err != nil {
		return err
	}
	signer, err := signerFromEnv()
	if err != nil {
		return err
	}
	opts := oneshot.Options{
		Config:               cfg,
		Log:                  log,
		Repo:                 f.repo,
		Branch:               f.branch,
		BaseFolder:           f.baseFolder,
		Resources:            f.resources,
		Namespaces:           f.namespaces,
		AllNamespaces:        f.allNamespaces,
		Selector:             f.selector,
		Output:               output,
		IncludeSystemObjects: f.includeSystem,
		Auth:                 destination.AuthFromData(auth),
		Signer:               signer,
		DryRun:               f.dryRun,
		CacheDir:             f.cacheDir,
		AgeIdentity:          identity,
		Out:                  stdout,
		Summary:              stderr,
	}
	return oneshot.Snapshot(ctx, opts)
}

func (f *snapshotFlags) validateStandalone() error {
	if f.repo == "" {
		if f.baseFolder != "" || len(f.resources) > 0 || len(f.namespaces) > 0 || f.allNamespaces || f.selector != "" || f.output != "" || f.includeSystem {
			return errors.New("--base-folder, --resources, --namespace, --all-namespaces, --selector, --output and --include-system-objects need --repo")
		}
	}
	if f.allNamespaces && len(f.namespaces) > 0 {
		return errors.New("--all-namespaces and --namespace exclude each other")
	}
	return destination.ValidateBaseFolder(f.baseFolder)
}

// signerFromEnv reads the standalone signing key: GIT_SIGNING_KEY_FILE holds an SSH private
// key or an armored OpenPGP private key, GIT_SIGNING_PASSPHRASE its optional passphrase.
func signerFromEnv() (gitrepo.Signer, error) {
	p := os.Getenv("GIT_SIGNING_KEY_FILE")
	if p == "" {
		return nil, nil
	}
	key, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("GIT_SIGNING_KEY_FILE: %w", err)
	}
	name := commit.SigningSSHKey
	if bytes.Contains(key, []byte("BEGIN PGP PRIVATE KEY BLOCK")) {
		name = commit.SigningOpenPGPKey
	}
	signer, err := commit.NewSigner(map[string][]byte{name: key, commit.SigningPassphrase: []byte(os.Getenv("GIT_SIGNING_PASSPHRASE"))})
	if err != nil {
		return nil, fmt.Errorf("GIT_SIGNING_KEY_FILE: %w", err)
	}
	return signer, nil
}

// authFromEnv reads standalone credentials from the environment, never from flags, so they do
// not show in process lists: GIT_USERNAME, GIT_PASSWORD, GIT_BEARER_TOKEN, GIT_CA_FILE,
// GIT_SSH_KEY_FILE, GIT_KNOWN_HOSTS_FILE.
func authFromEnv() (map[string][]byte, error) {
	d := map[string][]byte{}
	for key, env := range map[string]string{"username": "GIT_USERNAME", "password": "GIT_PASSWORD", "bearerToken": "GIT_BEARER_TOKEN"} {
		if v := os.Getenv(env); v != "" {
			d[key] = []byte(v)
		}
	}
	for key, env := range map[string]string{"ca.crt": "GIT_CA_FILE", "identity": "GIT_SSH_KEY_FILE", "known_hosts": "GIT_KNOWN_HOSTS_FILE"} {
		if p := os.Getenv(env); p != "" {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", env, err)
			}
			d[key] = b
		}
	}
	return d, nil
}
