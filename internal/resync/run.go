package resync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	disc "github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
	"github.com/gitops-reverser/gitops-reverser/internal/status"
)

// Options configure one snapshot run. With Repo empty every GitDestination in the cluster is
// synced with the rules that point at it; with Repo set the run is standalone.
type Options struct {
	Config *rest.Config

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
	// Output is what the files hold; "" is snapshot.DefaultOutput.
	Output snapshot.Output
	// IncludeSystemObjects keeps the objects the control plane maintains itself, for the
	// resources Resources names explicitly.
	IncludeSystemObjects bool

	// AgeIdentity is namespace/name of the Secret with the controller's age identity, for
	// destinations that encrypt Secrets.
	AgeIdentity types.NamespacedName

	DryRun bool
	// CacheDir keeps clones between runs; "" clones into memory.
	CacheDir string
	// Out receives the dry-run changeset, Summary one line per destination.
	Out, Summary io.Writer
}

// ErrFailed is returned when at least one destination failed; details are in the summary.
var ErrFailed = errors.New("snapshot failed")

// Run snapshots every target once.
func Run(ctx context.Context, o Options) error {
	dyn, err := dynamic.NewForConfig(o.Config)
	if err != nil {
		return fmt.Errorf("dynamic client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(o.Config)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(o.Config)
	if err != nil {
		return fmt.Errorf("discovery client: %w", err)
	}
	cat, err := disc.Fetch(ctx, dc)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	var targets []*destination.Target
	unusable := 0 // GitDestinations that cannot be synced at all: the run fails
	if o.Repo != "" {
		t, err := standalone(cat, o)
		if err != nil {
			return err
		}
		targets = []*destination.Target{t}
	} else {
		cfg, err := destination.Read(ctx, dyn)
		if err != nil {
			return err
		}
		var problems []destination.Problem
		identity := destination.IdentityLoader(kube, o.AgeIdentity.Namespace, o.AgeIdentity.Name)
		targets, problems = destination.Resolve(ctx, destination.Clients{Kube: kube, Identity: identity}, cfg, cat)
		for _, p := range problems {
			fmt.Fprintf(o.Summary, "%s %s: %s: %s\n", p.Kind, p.Name, p.Reason, p.Message)
			if p.Kind == "GitDestination" {
				unusable++
			}
		}
	}
	failed := unusable
	for _, t := range targets {
		res, err := snapshotOne(ctx, APIObjects{Dynamic: dyn}, cat, t, o)
		if err != nil && o.Repo != "" {
			return err
		}
		if o.Repo == "" && !o.DryRun {
			reportStatus(ctx, dyn, t, res, err)
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
	Outcome
	files      int    // object files desired under baseFolder
	unrendered string // Built.Unrendered
}

func snapshotOne(ctx context.Context, objs Objects, cat *disc.Catalog, t *destination.Target, o Options) (result, error) {
	start := time.Now()
	b := Build(ctx, objs, t, cat.Unavailable)
	res := result{files: len(b.Tree), unrendered: b.Unrendered()}
	if o.DryRun {
		cs, err := dryRun(ctx, t, b, o)
		if err != nil {
			return res, err
		}
		res.Changes = cs
		for _, c := range cs {
			fmt.Fprintf(o.Out, "%s %s\n", c.Op, c.Path)
		}
	} else {
		repo, err := gitrepo.Open(ctx, withDir(t.Repo, t.CloneDir(o.CacheDir)))
		if err != nil {
			return res, err
		}
		defer repo.Close()
		if res.Outcome, err = Sync(ctx, repo, t, b); err != nil {
			return res, err
		}
	}
	summary(o.Summary, t, b, res, time.Since(start))
	return res, nil
}

// summary is the one line per destination on stderr.
func summary(w io.Writer, t *destination.Target, b *Built, res result, took time.Duration) {
	cs := res.Changes
	added, updated, deleted := cs.Counts()
	fmt.Fprintf(w, "snapshot %s: %d types, %d objects, %d added, %d updated, %d deleted", t, b.Types, b.Objects, added, updated, deleted)
	if b.Skipped > 0 {
		fmt.Fprintf(w, ", %d secrets not written (no encryption)", b.Skipped)
	}
	if len(b.Failed) > 0 {
		fmt.Fprintf(w, ", %d types failed to list (files kept)", len(b.Failed))
	}
	if len(b.broken) > 0 {
		fmt.Fprintf(w, ", %d objects not rendered (files kept)", len(b.broken))
	}
	if !res.Head.IsZero() {
		fmt.Fprintf(w, ", head %s", res.Head.String()[:12])
	}
	fmt.Fprintf(w, ", %s\n", took.Round(time.Millisecond))
}

// reportStatus writes the snapshot's outcome on the GitDestination, as the controller does.
func reportStatus(ctx context.Context, dyn dynamic.Interface, t *destination.Target, res result, err error) {
	s := status.Destination{Ready: true, Reason: v1alpha1.ReasonSynced, Files: res.files}
	if err != nil {
		s = status.Destination{Reason: status.Reason(err), Message: err.Error()}
	} else {
		s.Message = fmt.Sprintf("snapshot: %d files", res.files)
		if !res.Head.IsZero() {
			s.LastCommit = res.Head.String()
		}
		if len(res.Changes) > 0 {
			s.LastPush = time.Now()
		}
		if res.unrendered != "" {
			s.Ready, s.Reason, s.Message = false, v1alpha1.ReasonObjectsNotRendered, res.unrendered
		}
	}
	status.WriteDestination(ctx, dyn, t.Name, s)
}

// dryRun computes the changeset without writing, also for a local repository that does not exist yet.
func dryRun(ctx context.Context, t *destination.Target, b *Built, o Options) (diff.Changeset, error) {
	if gitrepo.IsLocalPath(t.Repo.URL) {
		if _, err := os.Stat(t.Repo.URL); errors.Is(err, os.ErrNotExist) {
			return diff.Diff(b.Tree, nil, diff.Options{BaseFolder: t.BaseFolder}), nil
		}
	}
	repo, err := gitrepo.Open(ctx, withDir(t.Repo, t.CloneDir(o.CacheDir)))
	if err != nil {
		return nil, err
	}
	defer repo.Close()
	return DryRun(ctx, repo, t, b)
}

func withDir(o gitrepo.Options, dir string) gitrepo.Options {
	o.Dir = dir
	return o
}

// standalone builds the one target of `snapshot --repo`.
func standalone(cat *disc.Catalog, o Options) (*destination.Target, error) {
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
	resources, err := disc.Resolve(cat, rules)
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
func ParseResources(names []string) ([]disc.Rule, error) {
	if len(names) == 0 {
		names = []string{"*"}
	}
	var rules []disc.Rule
	for _, n := range names {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			continue
		case n == "*":
			rules = append(rules, disc.Rule{APIGroups: []string{"*"}, Resources: []string{"*"}})
		default:
			res, group, _ := strings.Cut(n, ".")
			rules = append(rules, disc.Rule{APIGroups: []string{group}, Resources: []string{res}})
		}
	}
	for _, r := range rules {
		if err := disc.ValidateRule(r); err != nil {
			return nil, fmt.Errorf("--resources: %w", err)
		}
	}
	return rules, nil
}
