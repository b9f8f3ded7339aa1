package oneshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/cluster"
	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/resync"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/status"
)

// Options configure one snapshot run. With Repo empty every GitDestination in the cluster is
// synced with the rules that point at it; with Repo set the run is standalone.
type Options struct {
	Config *rest.Config
	// Log receives warnings (lists that failed, objects not rendered); nil discards.
	Log *slog.Logger

	// Standalone mode.
	Repo       string
	Branch     string
	BaseFolder string
	// Resources are "plural[.group]" names or "*"; empty means "*".
	Resources     []string
	Namespaces    []string
	AllNamespaces bool
	Selector      string
	Auth          gitrepo.Auth
	// Signer signs the standalone commits; nil: unsigned.
	Signer gitrepo.Signer
	// Output is what the files hold; "" is snapshot.DefaultOutput.
	Output snapshot.Output
	// IncludeSystemObjects keeps the objects the control plane maintains itself, for the
	// resources Resources names explicitly.
	IncludeSystemObjects bool

	// AgeIdentity is namespace/name of the Secret with the controller's age identity, for
	// destinations that encrypt Secrets.
	AgeIdentity types.NamespacedName

	DryRun bool
	// Ref is the revision diff compares with; "" is the branch head.
	Ref string
	// Identities decrypt the Secrets in Git for diff.
	Identities []*age.X25519Identity
	// CacheDir keeps clones between runs; "" clones into memory.
	CacheDir string
	// Out receives the dry-run changeset, Summary one line per destination.
	Out, Summary io.Writer
}

// ErrFailed is returned when at least one destination failed; details are in the summary.
var ErrFailed = errors.New("snapshot failed")

// Snapshot snapshots every target once.
func Snapshot(ctx context.Context, o Options) error {
	o = o.withDefaults()
	c, cat, err := cluster.Connect(ctx, o.Config)
	if err != nil {
		return err
	}
	var targets []*destination.Target
	unusable := 0 // GitDestinations that cannot be synced at all: the run fails
	d, note := defaulter(ctx, o, c)
	if o.Repo != "" {
		t, err := standalone(cat, o)
		if err != nil {
			return err
		}
		t.Defaulter = d
		targets = []*destination.Target{t}
	} else {
		identity := destination.IdentityLoader(c.Kube, o.AgeIdentity.Namespace, o.AgeIdentity.Name)
		_, found, problems, err := destination.Load(ctx, destination.Listed(c.Dynamic), destination.Clients{Kube: c.Kube, Identity: identity, Defaulter: d}, cat)
		if err != nil {
			return err
		}
		targets = found
		for _, p := range problems {
			fmt.Fprintf(o.Summary, "%s %s: %s: %s\n", p.Kind, p.Name, p.Reason, p.Message)
			if p.Kind == "GitDestination" {
				unusable++
			}
		}
	}
	failed := unusable
	noted := false
	for _, t := range targets {
		if t.Suspend {
			fmt.Fprintf(o.Summary, "snapshot %s: suspended (spec.suspend), skipped\n", t)
			continue
		}
		res, err := snapshotOne(ctx, resync.APIObjects{Dynamic: c.Dynamic}, cat, t, o)
		if err != nil && o.Repo != "" {
			return err
		}
		if t.OutputMode() == snapshot.Clean && note != "" {
			res.note = note
			if !noted { // said once for the run: it is the server's, not a destination's
				fmt.Fprintf(o.Summary, "snapshot: %s\n", note)
				noted = true
			}
		}
		if o.Repo == "" && !o.DryRun {
			reportStatus(ctx, o.Log, c.Dynamic, t, res, err)
		}
		if err != nil {
			failed++
			fmt.Fprintf(o.Summary, "snapshot %s: %v\n", t, err)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d destinations", ErrFailed, failed, len(targets)+unusable)
	}
	return nil
}

// result is what one destination's snapshot did.
type result struct {
	resync.Outcome
	files      int    // object files desired under baseFolder
	unrendered string // Built.Unrendered
	note       string // why Clean files keep the server's defaults
}

func snapshotOne(ctx context.Context, objs resync.Objects, cat *discovery.Catalog, t *destination.Target, o Options) (result, error) {
	start := time.Now()
	log := o.Log.With("destination", t.String())
	var res result
	if o.DryRun {
		out, err := dryRun(ctx, log, objs, cat, t, o)
		if err != nil {
			return res, err
		}
		res.Built, res.Changes = out.Built, out.Changes
		for _, c := range out.Changes {
			fmt.Fprintf(o.Out, "%s %s\n", c.Op, c.Path)
		}
	} else {
		repo, err := gitrepo.Open(ctx, o.repoOptions(t))
		if err != nil {
			return res, err
		}
		defer repo.Close()
		if res.Outcome, err = resync.Sync(ctx, log, repo, objs, t, cat.Unavailable); err != nil {
			return res, err
		}
	}
	res.files, res.unrendered = len(res.Built.Tree), res.Built.Unrendered()
	summary(o.Summary, t, res.Built, res, time.Since(start))
	return res, nil
}

// summary is the one line per destination on stderr.
func summary(w io.Writer, t *destination.Target, b *resync.Built, res result, took time.Duration) {
	cs := res.Changes
	added, updated, deleted := cs.Counts()
	fmt.Fprintf(w, "snapshot %s: %d types, %d objects, %d added, %d updated, %d deleted", t, b.Types, b.Objects, added, updated, deleted)
	if b.Skipped > 0 {
		fmt.Fprintf(w, ", %d secrets not written (no encryption)", b.Skipped)
	}
	if len(b.Failed) > 0 {
		fmt.Fprintf(w, ", %d types failed to list (files kept)", len(b.Failed))
	}
	if n := b.Broken(); n > 0 {
		fmt.Fprintf(w, ", %d objects not rendered (files kept)", n)
	}
	if !res.Head.IsZero() {
		fmt.Fprintf(w, ", head %s", res.Head.String()[:12])
	}
	fmt.Fprintf(w, ", %s\n", took.Round(time.Millisecond))
}

// reportStatus writes the snapshot's outcome on the GitDestination, as the controller does.
func reportStatus(ctx context.Context, log *slog.Logger, dyn dynamic.Interface, t *destination.Target, res result, err error) {
	s := status.Synced(res.files, res.Head, len(res.Changes) > 0, res.unrendered).With(res.note)
	if err != nil {
		s = status.Failed(err)
	}
	status.WriteDestination(ctx, log, dyn, t.Name, s)
}

// dryRun computes the changeset without writing, also for a local repository that does not exist yet.
func dryRun(ctx context.Context, log *slog.Logger, objs resync.Objects, cat *discovery.Catalog, t *destination.Target, o Options) (resync.Outcome, error) {
	if gitrepo.IsLocalPath(t.Repo.URL) {
		if _, err := os.Stat(t.Repo.URL); errors.Is(err, os.ErrNotExist) {
			b := resync.Build(ctx, log, objs, t, cat.Unavailable, resync.Hashes)
			return resync.Outcome{Built: b, Changes: diff.Diff(b.Tree, nil, diff.Options{BaseFolder: t.BaseFolder})}, nil
		}
	}
	repo, err := gitrepo.Open(ctx, o.repoOptions(t))
	if err != nil {
		return resync.Outcome{}, err
	}
	defer repo.Close()
	return resync.DryRun(ctx, log, repo, objs, t, cat.Unavailable)
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Summary == nil {
		o.Summary = io.Discard
	}
	return o
}

// repoOptions are t's repository options with its clone under CacheDir.
func (o Options) repoOptions(t *destination.Target) gitrepo.Options {
	r := t.Repo
	r.Dir = t.CloneDir(o.Log, o.CacheDir)
	r.Log = o.Log
	return r
}

// standalone builds the one target of `snapshot --repo`.
func standalone(cat *discovery.Catalog, o Options) (*destination.Target, error) {
	if err := destination.ValidateBaseFolder(o.BaseFolder); err != nil {
		return nil, err
	}
	var sel labels.Selector
	if o.Selector != "" {
		s, err := labels.Parse(o.Selector)
		if err != nil {
			return nil, fmt.Errorf("--selector: %w", err)
		}
		sel = s
	}
	rules, err := ParseResources(o.Resources)
	if err != nil {
		return nil, err
	}
	resources, err := discovery.Resolve(cat, rules)
	if err != nil {
		return nil, err
	}
	branch := o.Branch
	if branch == "" {
		branch = "main"
	}
	t := &destination.Target{
		Name:       types.NamespacedName{Name: o.Repo},
		Repo:       gitrepo.Options{URL: o.Repo, Branch: branch, Auth: o.Auth, Dir: ""},
		BaseFolder: strings.TrimSuffix(o.BaseFolder, "/"),
		Prune:      true,
		Committer:  destination.DefaultCommitter,
		Output:     o.Output,
		Signer:     o.Signer,
	}
	namespaces := []string{""}
	if !o.AllNamespaces {
		namespaces = o.Namespaces
	}
	for _, r := range resources {
		system := o.IncludeSystemObjects && r.Named
		if !r.Namespaced {
			t.Sources = append(t.Sources, destination.Source{Resource: r, Selector: sel, IncludeSystem: system})
			continue
		}
		for _, ns := range namespaces {
			t.Sources = append(t.Sources, destination.Source{Resource: r, Namespace: ns, Selector: sel, IncludeSystem: system})
		}
	}
	return t, nil
}

// ParseResources turns --resources values ("configmaps", "deployments.apps", "*") into rules.
func ParseResources(names []string) ([]discovery.Rule, error) {
	if len(names) == 0 {
		names = []string{"*"}
	}
	var rules []discovery.Rule
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			continue
		case n == "*":
			rules = append(rules, discovery.Rule{APIGroups: []string{"*"}, Resources: []string{"*"}})
		default:
			res, group, _ := strings.Cut(n, ".")
			rules = append(rules, discovery.Rule{APIGroups: []string{group}, Resources: []string{res}})
		}
	}
	for _, r := range rules {
		if err := discovery.ValidateRule(r); err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
	}
	return rules, nil
}

// defaulter is the API server's defaulting for Clean files, with its CRDs' schemas as they are
// now, and why there is none.
func defaulter(ctx context.Context, o Options, c *cluster.Clients) (*defaulting.Defaulter, string) {
	return c.Defaulting(cluster.ListSchemas(ctx, o.Log, c.Dynamic))
}
