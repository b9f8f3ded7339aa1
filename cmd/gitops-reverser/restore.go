package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/gitops-reverser/gitops-reverser/internal/oneshot"
)

func restoreCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		f        readerFlags
		existing string
		prune    bool
		dryRun   string
	)
	fs := pflag.NewFlagSet("restore", pflag.ContinueOnError)
	f.bind(fs, "restore")
	fs.StringVar(&existing, "existing", "skip", "objects that exist: skip (left as they are, with a warning where they differ) or update (apply the file, taking its fields from other managers)")
	fs.BoolVar(&prune, "prune", false, "delete live objects of the restored resources and namespaces that Git lacks")
	fs.StringVar(&dryRun, "dry-run", "none", "server: send everything as a server-side dry run and change nothing")
	o, err := f.prepare(ctx, fs, args, stdout, stderr, func() error {
		if existing != string(oneshot.ExistingSkip) && existing != string(oneshot.ExistingUpdate) {
			return fmt.Errorf("--existing %q: want skip or update", existing)
		}
		if dryRun != "none" && dryRun != "server" {
			return fmt.Errorf("--dry-run %q: want server", dryRun)
		}
		return nil
	})
	if err != nil || o == nil {
		return err
	}
	file, isFile := stderr.(*os.File)
	return oneshot.Restore(ctx, *o, oneshot.RestoreOptions{
		Existing: oneshot.Existing(existing), Prune: prune, DryRun: dryRun == "server", Paths: fs.Args(),
		Progress: isFile && term.IsTerminal(int(file.Fd())),
	})
}
