package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/oneshot"
)

func restoreCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		f            snapshotFlags
		ref          string
		identityFile string
		identitySecr string
		existing     string
		prune        bool
		dryRun       string
	)
	fs := pflag.NewFlagSet("restore", pflag.ContinueOnError)
	f.bind(fs)
	fs.StringVar(&f.repo, "repo", "", "repository URL or local path (required)")
	fs.StringVar(&f.branch, "branch", "main", "branch whose files are restored")
	fs.StringVar(&ref, "ref", "", "revision to restore: a commit, tag or expression such as main~1 (default: the branch head)")
	fs.StringVar(&f.baseFolder, "base-folder", "", "folder in the repository that holds the files")
	fs.StringSliceVar(&f.resources, "resources", nil, "resources to restore, plural[.group], comma-separated (default all)")
	fs.StringArrayVarP(&f.namespaces, "namespace", "n", nil, "namespace to restore (repeatable; default the kubeconfig's namespace); cluster-scoped objects are restored too")
	fs.BoolVarP(&f.allNamespaces, "all-namespaces", "A", false, "restore every namespace")
	fs.StringVarP(&f.selector, "selector", "l", "", "label selector")
	fs.StringVar(&existing, "existing", "skip", "objects that exist: skip (left as they are, with a warning where they differ) or update (apply the file, taking its fields from other managers)")
	fs.BoolVar(&prune, "prune", false, "delete live objects of the restored resources and namespaces that Git lacks")
	fs.StringVar(&dryRun, "dry-run", "none", "server: send everything as a server-side dry run and change nothing")
	fs.StringVar(&identityFile, "age-identity-file", os.Getenv("SOPS_AGE_KEY_FILE"), "age identities that decrypt the Secrets in Git (default $SOPS_AGE_KEY_FILE)")
	fs.StringVar(&identitySecr, "age-identity-secret", "", "namespace/name of the controller's age identity Secret, which decrypts every Secret it wrote (instead of --age-identity-file)")
	cfg, log, err := f.prepare(fs, args, stdout, stderr, func() error {
		if f.repo == "" {
			return errors.New("--repo is required")
		}
		if existing != string(oneshot.ExistingSkip) && existing != string(oneshot.ExistingUpdate) {
			return fmt.Errorf("--existing %q: want skip or update", existing)
		}
		if dryRun != "none" && dryRun != "server" {
			return fmt.Errorf("--dry-run %q: want server", dryRun)
		}
		return f.validateStandalone()
	})
	if err != nil || cfg == nil {
		return err
	}
	if !f.allNamespaces && len(f.namespaces) == 0 {
		ns, _, err := f.clientConfig().Namespace()
		if err != nil {
			return fmt.Errorf("kubeconfig namespace: %w", err)
		}
		f.namespaces = []string{ns}
	}
	ids, err := readIdentities(identityFile)
	if err != nil {
		return err
	}
	if identitySecr != "" {
		id, err := identityFromSecret(ctx, cfg, identitySecr)
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	auth, err := authFromEnv()
	if err != nil {
		return err
	}
	file, isFile := stderr.(*os.File)
	return oneshot.Restore(ctx, oneshot.Options{
		Config: cfg, Log: log,
		Repo: f.repo, Branch: f.branch, Ref: ref, BaseFolder: f.baseFolder,
		Resources: f.resources, Namespaces: f.namespaces, AllNamespaces: f.allNamespaces, Selector: f.selector,
		Auth: destination.AuthFromData(auth), Identities: ids,
		Out: stdout, Summary: stderr,
	}, oneshot.RestoreOptions{
		Existing: oneshot.Existing(existing), Prune: prune, DryRun: dryRun == "server", Paths: fs.Args(),
		Progress: isFile && term.IsTerminal(int(file.Fd())),
	})
}
