package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"

	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/oneshot"
)

// readerFlags are the flags of the commands that read a repository back (diff, restore):
// which revision, which files, and the identities that decrypt its Secrets.
type readerFlags struct {
	snapshotFlags
	ref, identityFile, identitySecret string
}

// bind binds the flags; verb says what the command does with the files ("compare").
func (f *readerFlags) bind(fs *pflag.FlagSet, verb string) {
	f.common.bind(fs)
	fs.StringVar(&f.repo, "repo", "", "repository URL or local path (required)")
	fs.StringVar(&f.branch, "branch", "main", "branch whose files are read")
	fs.StringVar(&f.ref, "ref", "", "revision to "+verb+": a commit, tag or expression such as main~1 (default: the branch head)")
	fs.StringVar(&f.baseFolder, "base-folder", "", "folder in the repository that holds the files")
	fs.StringSliceVar(&f.resources, "resources", nil, "resources to "+verb+", plural[.group], comma-separated (default all)")
	fs.StringArrayVarP(&f.namespaces, "namespace", "n", nil, "namespace to "+verb+" (repeatable; default the kubeconfig's namespace); cluster-scoped objects are included")
	fs.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, verb+" every namespace")
	fs.StringVarP(&f.selector, "selector", "l", "", "label selector")
	fs.StringVar(&f.identityFile, "age-identity-file", os.Getenv("SOPS_AGE_KEY_FILE"), "age identities that decrypt the Secrets in Git (default $SOPS_AGE_KEY_FILE)")
	fs.StringVar(&f.identitySecret, "age-identity-secret", "", "namespace/name of the controller's age identity Secret, which decrypts every Secret it wrote")
}

// prepare parses and validates the flags (validate adds the command's own checks) and returns
// the options of oneshot; nil options and nil error mean only the help was printed.
func (f *readerFlags) prepare(ctx context.Context, fs *pflag.FlagSet, args []string, stdout, stderr io.Writer, validate func() error) (*oneshot.Options, error) {
	cfg, log, err := f.common.prepare(fs, args, stdout, stderr, func() error {
		if f.repo == "" {
			return errors.New("--repo is required")
		}
		if err := validate(); err != nil {
			return err
		}
		return f.validateStandalone()
	})
	if err != nil || cfg == nil {
		return nil, err
	}
	if !f.allNamespaces && len(f.namespaces) == 0 {
		ns, _, err := f.clientConfig().Namespace()
		if err != nil {
			return nil, fmt.Errorf("kubeconfig namespace: %w", err)
		}
		f.namespaces = []string{ns}
	}
	ids, err := readIdentities(f.identityFile)
	if err != nil {
		return nil, err
	}
	if f.identitySecret != "" {
		id, err := identityFromSecret(ctx, cfg, f.identitySecret)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	auth, err := authFromEnv()
	if err != nil {
		return nil, err
	}
	return &oneshot.Options{
		Config: cfg, Log: log,
		Repo: f.repo, Branch: f.branch, Ref: f.ref, BaseFolder: f.baseFolder,
		Resources: f.resources, Namespaces: f.namespaces, AllNamespaces: f.allNamespaces, Selector: f.selector,
		IncludeSystemObjects: f.includeSystem, CacheDir: f.cacheDir,
		Auth: destination.AuthFromData(auth), Identities: ids,
		Out: stdout, Summary: stderr,
	}, nil
}
