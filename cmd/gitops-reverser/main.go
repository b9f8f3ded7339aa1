// Command gitops-reverser writes live Kubernetes objects into a Git repository: `run` keeps
// doing it (controller), `snapshot` does it once (CronJob, or standalone with --repo).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/gitops-reverser/gitops-reverser/internal/version"
)

const usage = `usage: gitops-reverser <command> [flags]

commands:
  run        keep Git in step with the cluster (the controller)
  snapshot   one full resync of every GitDestination, or of --repo (standalone), then exit
  diff       compare the files of --repo (at --ref) with the live cluster; exit 0 same, 1 differ, 2 error
  restore    server-side apply the files of --repo (at --ref) in dependency order, a report line per object
  version    print version, commit and Go version

Run 'gitops-reverser <command> --help' for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		code := 1
		var status *exitStatus
		if errors.As(err, &status) {
			code, err = status.code, status.err
		}
		if err != nil && !errors.Is(err, errUsageShown) {
			fmt.Fprintln(os.Stderr, "gitops-reverser:", oneLine(err))
		}
		os.Exit(code)
	}
}

var klogOnce sync.Once

// errUsageShown ends a run whose output already says what is wrong.
var errUsageShown = errors.New("usage shown")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsageShown
	}
	switch args[0] {
	case "version", "--version":
		fmt.Fprintln(stdout, version.String())
		return nil
	case "snapshot":
		return snapshotCommand(ctx, args[1:], stdout, stderr)
	case "diff":
		return diffCommand(ctx, args[1:], stdout, stderr)
	case "restore":
		return restoreCommand(ctx, args[1:], stdout, stderr)
	case "run":
		return runCommand(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q (want run, snapshot, diff, restore or version)", args[0])
	}
}

// common are the flags of every command that talks to a cluster.
type common struct {
	kubeconfig string
	logFormat  string
	logLevel   string
}

func (c *common) bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.kubeconfig, "kubeconfig", "", "path to a kubeconfig (else $KUBECONFIG, else ~/.kube/config, else in-cluster)")
	fs.StringVar(&c.logFormat, "log-format", "text", "log format: json or text")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (c *common) validate() error {
	switch c.logFormat {
	case "json", "text":
	default:
		return fmt.Errorf("--log-format %q: want json or text", c.logFormat)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	return nil
}

func (c *common) logger(w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.logLevel))
	opts := &slog.HandlerOptions{Level: l}
	if c.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// clientConfig loads the kubeconfig the way kubectl does, falling back to in-cluster.
func (c *common) clientConfig() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = c.kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{})
}

func (c *common) restConfig() (*rest.Config, error) {
	cfg, err := c.clientConfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.UserAgent = "gitops-reverser"
	return cfg, nil
}

// prepare parses the flags, validates them, makes the logger and loads the kubeconfig.
// A nil config and nil error mean the command only printed its help.
func (c *common) prepare(fs *pflag.FlagSet, args []string, stdout, stderr io.Writer, validate func() error) (*rest.Config, *slog.Logger, error) {
	if err := parse(fs, args, stdout); errors.Is(err, errHelp) {
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, err
	}
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	if err := validate(); err != nil {
		return nil, nil, err
	}
	logger := c.logger(stderr)
	// client-go (leader election, reflectors) logs in the same format. klog's logger is a
	// process global that is not safe to replace while informers run: set it once.
	klogOnce.Do(func() { klog.SetSlogLogger(logger) })
	cfg, err := c.restConfig()
	return cfg, logger, err
}

// parse parses args, then fills every flag not given on the command line from
// GITOPS_REVERSER_<FLAG_NAME>; the command line wins.
func parse(fs *pflag.FlagSet, args []string, stdout io.Writer) error {
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: gitops-reverser %s [flags]\n\n%s", fs.Name(), fs.FlagUsages())
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 && fs.Name() != "restore" { // restore takes paths
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "GITOPS_REVERSER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: %w", name, e)
			}
		}
	})
	return err
}

// errHelp ends a run that printed its help.
var errHelp = errors.New("help")

// oneLine keeps an error message to one line, as scripts and CronJob logs expect.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
