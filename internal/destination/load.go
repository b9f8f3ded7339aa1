package destination

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"filippo.io/age"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/commit"
	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// Clients are what Resolve reads through.
type Clients struct {
	Kube kubernetes.Interface
	// Identity gives the controller's own age identity, for destinations that encrypt
	// Secrets; nil when this process cannot encrypt.
	Identity func(context.Context) (*age.X25519Identity, error)
	// Defaulter is the API server's defaulting, for Clean files; nil leaves out only what no
	// field manager owns.
	Defaulter *defaulting.Defaulter
}

// Problem is something wrong with one object of the API, to be reported on its status.
type Problem struct {
	// Kind and Name identify the GitDestination, WatchRule or ClusterWatchRule.
	Kind    string
	Name    types.NamespacedName
	Reason  string
	Message string
}

// Config is every GitDestination and rule in the cluster.
type Config struct {
	Destinations      []v1alpha1.GitDestination
	WatchRules        []v1alpha1.WatchRule
	ClusterWatchRules []v1alpha1.ClusterWatchRule
}

// ConfigSource gives every GitDestination and rule: listed by a command that runs once, or
// read from the informers the controller runs anyway.
type ConfigSource func(ctx context.Context) (*Config, error)

// Listed is the ConfigSource of one LIST per kind.
func Listed(dyn dynamic.Interface) ConfigSource {
	return func(ctx context.Context) (*Config, error) {
		items := map[schema.GroupVersionResource][]unstructured.Unstructured{}
		for _, gvr := range []schema.GroupVersionResource{v1alpha1.GitDestinations, v1alpha1.WatchRules, v1alpha1.ClusterWatchRules} {
			l, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", gvr.Resource, err)
			}
			items[gvr] = l.Items
		}
		return Decode(items[v1alpha1.GitDestinations], items[v1alpha1.WatchRules], items[v1alpha1.ClusterWatchRules])
	}
}

// Decode makes a Config of the three kinds' objects, each kind sorted by namespace and name
// whatever order they came in, so the same objects always resolve to the same targets.
func Decode(destinations, watchRules, clusterWatchRules []unstructured.Unstructured) (*Config, error) {
	var c Config
	if err := decode(destinations, &c.Destinations); err != nil {
		return nil, err
	}
	if err := decode(watchRules, &c.WatchRules); err != nil {
		return nil, err
	}
	if err := decode(clusterWatchRules, &c.ClusterWatchRules); err != nil {
		return nil, err
	}
	return &c, nil
}

func decode[T any](items []unstructured.Unstructured, out *[]T) error {
	slices.SortFunc(items, func(a, b unstructured.Unstructured) int {
		return cmp.Or(cmp.Compare(a.GetNamespace(), b.GetNamespace()), cmp.Compare(a.GetName(), b.GetName()))
	})
	for i := range items {
		var v T
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(items[i].Object, &v); err != nil {
			return fmt.Errorf("decode %s %s: %w", items[i].GetKind(), items[i].GetName(), err)
		}
		*out = append(*out, v)
	}
	return nil
}

// Load reads the config from src and resolves it against what the server serves (cat).
func Load(ctx context.Context, src ConfigSource, c Clients, cat *discovery.Catalog) (*Config, []*Target, []Problem, error) {
	cfg, err := src(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	targets, problems := Resolve(ctx, c, cfg, cat)
	return cfg, targets, problems, nil
}

// Resolve turns the config into targets, one per usable GitDestination, with the sources of
// every rule that points at it. What cannot be used is returned as problems, never dropped.
func Resolve(ctx context.Context, c Clients, cfg *Config, cat *discovery.Catalog) ([]*Target, []Problem) {
	var problems []Problem
	byName := map[types.NamespacedName]*Target{}
	for i := range cfg.Destinations {
		d := &cfg.Destinations[i]
		t, err := fromSpec(ctx, c, d)
		if err != nil {
			problems = append(problems, Problem{Kind: "GitDestination", Name: nameOf(d.ObjectMeta), Reason: reasonOf(err), Message: err.Error()})
			continue
		}
		t.Defaulter = c.Defaulter
		byName[t.Name] = t
	}
	for i := range cfg.WatchRules {
		r := &cfg.WatchRules[i]
		p := addWatchRule(byName, cat, r)
		problems = append(problems, p...)
	}
	for i := range cfg.ClusterWatchRules {
		r := &cfg.ClusterWatchRules[i]
		p := addClusterWatchRule(ctx, c.Kube, byName, cat, r)
		problems = append(problems, p...)
	}
	targets := make([]*Target, 0, len(byName))
	for _, t := range byName {
		targets = append(targets, t)
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].String() < targets[j].String() })
	return targets, problems
}

func addWatchRule(byName map[types.NamespacedName]*Target, cat *discovery.Catalog, r *v1alpha1.WatchRule) []Problem {
	name := nameOf(r.ObjectMeta)
	problem := func(reason, msg string) []Problem {
		return []Problem{{Kind: "WatchRule", Name: name, Reason: reason, Message: msg}}
	}
	t, ok := byName[types.NamespacedName{Namespace: r.Namespace, Name: r.Spec.DestinationRef.Name}]
	if !ok {
		return problem(v1alpha1.ReasonDestinationNotFound, fmt.Sprintf("GitDestination %s/%s not found or not usable", r.Namespace, r.Spec.DestinationRef.Name))
	}
	sel, err := selector(r.Spec.ObjectSelector)
	if err != nil {
		return problem(v1alpha1.ReasonInvalidSpec, err.Error())
	}
	rules := make([]discovery.Rule, 0, len(r.Spec.Rules))
	for _, rr := range r.Spec.Rules {
		rules = append(rules, discovery.Rule{APIGroups: rr.APIGroups, APIVersions: rr.APIVersions, Resources: rr.Resources, Scope: discovery.ScopeNamespaced})
	}
	resources, err := resolveRules(cat, rules)
	managers, users := setOf(r.Spec.ExcludeFieldManagers), setOf(r.Spec.ExcludeUsers)
	for _, res := range resources {
		t.Sources = append(t.Sources, Source{Resource: res, Namespace: r.Namespace, Selector: sel, IncludeSystem: r.Spec.IncludeSystemObjects && res.Named,
			ExcludeManagers: managers, ExcludeUsers: users})
	}
	if err != nil {
		return problem(reasonOf(err), err.Error())
	}
	return nil
}

func addClusterWatchRule(ctx context.Context, kube kubernetes.Interface, byName map[types.NamespacedName]*Target, cat *discovery.Catalog, r *v1alpha1.ClusterWatchRule) []Problem {
	name := types.NamespacedName{Name: r.Name}
	problem := func(reason, msg string) []Problem {
		return []Problem{{Kind: "ClusterWatchRule", Name: name, Reason: reason, Message: msg}}
	}
	ref := types.NamespacedName{Namespace: r.Spec.DestinationRef.Namespace, Name: r.Spec.DestinationRef.Name}
	t, ok := byName[ref]
	if !ok {
		return problem(v1alpha1.ReasonDestinationNotFound, fmt.Sprintf("GitDestination %s not found or not usable", ref))
	}
	sel, err := selector(r.Spec.ObjectSelector)
	if err != nil {
		return problem(v1alpha1.ReasonInvalidSpec, err.Error())
	}
	inNamespaces, err := namespaceFilter(ctx, kube, r.Spec.NamespaceSelector)
	if err != nil {
		return problem(v1alpha1.ReasonInvalidSpec, err.Error())
	}
	rules := make([]discovery.Rule, 0, len(r.Spec.Rules))
	for _, rr := range r.Spec.Rules {
		rules = append(rules, discovery.Rule{APIGroups: rr.APIGroups, APIVersions: rr.APIVersions, Resources: rr.Resources, Scope: discovery.Scope(rr.Scope)})
	}
	resources, err := resolveRules(cat, rules)
	managers, users := setOf(r.Spec.ExcludeFieldManagers), setOf(r.Spec.ExcludeUsers)
	for _, res := range resources {
		t.Sources = append(t.Sources, Source{Resource: res, InNamespaces: inNamespaces, Selector: sel, IncludeSystem: r.Spec.IncludeSystemObjects && res.Named,
			ExcludeManagers: managers, ExcludeUsers: users})
	}
	if err != nil {
		return problem(reasonOf(err), err.Error())
	}
	return nil
}

// setOf is names as a set; nil when there are none.
func setOf(names []string) map[string]bool {
	if len(names) == 0 {
		return nil
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// errNoMatch marks rules that select nothing that exists.
var errNoMatch = errors.New("rules match no resource served by the cluster")

func resolveRules(cat *discovery.Catalog, rules []discovery.Rule) ([]discovery.Resource, error) {
	for _, r := range rules {
		if err := discovery.ValidateRule(r); err != nil {
			return nil, fmt.Errorf("%w: %w", errInvalid, err)
		}
	}
	res, err := discovery.Resolve(cat, rules)
	if err != nil {
		return res, fmt.Errorf("%w: %w", errNoMatch, err)
	}
	if len(res) == 0 {
		return nil, errNoMatch
	}
	return res, nil
}

func selector(s *metav1.LabelSelector) (labels.Selector, error) {
	if s == nil {
		return nil, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, fmt.Errorf("%w: selector: %w", errInvalid, err)
	}
	return sel, nil
}

// namespaceFilter lists the namespaces a namespaceSelector picks, once per resolution.
func namespaceFilter(ctx context.Context, kube kubernetes.Interface, s *metav1.LabelSelector) (map[string]bool, error) {
	sel, err := selector(s)
	if err != nil || sel == nil {
		return nil, err
	}
	l, err := kube.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	set := make(map[string]bool, len(l.Items))
	for _, ns := range l.Items {
		set[ns.Name] = true
	}
	return set, nil
}

// errInvalid marks a spec that can never work as written.
var errInvalid = errors.New("invalid spec")

// errIdentity marks the controller's own age identity as unavailable (its namespace or RBAC).
var errIdentity = errors.New("the controller's age identity is unavailable")

func reasonOf(err error) string {
	switch {
	case errors.Is(err, errNoMatch):
		return v1alpha1.ReasonNoMatchingResources
	case errors.Is(err, errSecret):
		return v1alpha1.ReasonAuthenticationFailed
	case errors.Is(err, errIdentity):
		return v1alpha1.ReasonIdentityUnavailable
	case errors.Is(err, commit.ErrSigningKey):
		return v1alpha1.ReasonSigningKeyInvalid
	default:
		return v1alpha1.ReasonInvalidSpec
	}
}

func nameOf(m metav1.ObjectMeta) types.NamespacedName {
	return types.NamespacedName{Namespace: m.Namespace, Name: m.Name}
}

// fromSpec is the where-and-how half of a target.
func fromSpec(ctx context.Context, c Clients, d *v1alpha1.GitDestination) (*Target, error) {
	s := d.Spec
	t := &Target{
		Name:         nameOf(d.ObjectMeta),
		Repo:         gitrepo.Options{URL: s.URL, Branch: s.Branch},
		BaseFolder:   s.BaseFolder,
		Prune:        s.Prune == nil || *s.Prune,
		Committer:    DefaultCommitter,
		CommitWindow: 2 * time.Second,
		Suspend:      s.Suspend,
		RequestedAt:  d.Annotations[v1alpha1.ReconcileRequestAnnotation],
	}
	out, err := snapshot.ParseOutput(string(s.Output))
	if err != nil {
		return nil, fmt.Errorf("%w: spec.output: %w", errInvalid, err)
	}
	t.Output = out
	if t.Repo.Branch == "" {
		t.Repo.Branch = "main"
	}
	if s.CommitWindow != nil {
		t.CommitWindow = s.CommitWindow.Duration
	}
	if s.Committer != nil {
		t.Committer = gitrepo.Signature{Name: s.Committer.Name, Email: s.Committer.Email}
	}
	if s.Encryption != nil {
		if err := t.encryptTo(ctx, c, s.Encryption.AgeRecipients); err != nil {
			return nil, err
		}
	}
	if err := ValidateBaseFolder(t.BaseFolder); err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalid, err)
	}
	if t.BaseFolder != "" {
		t.BaseFolder = path.Clean(t.BaseFolder)
	}
	if s.SecretRef != nil {
		auth, err := readAuth(ctx, c.Kube, d.Namespace, s.SecretRef.Name)
		if err != nil {
			return nil, err
		}
		t.Repo.Auth = auth
	}
	if s.Signing != nil {
		signer, err := readSigner(ctx, c.Kube, d.Namespace, s.Signing.SecretRef.Name)
		if err != nil {
			return nil, err
		}
		t.Signer = signer
	}
	return t, nil
}

// encryptTo sets up SOPS encryption of Secrets to the recipients and the controller's own key.
func (t *Target) encryptTo(ctx context.Context, c Clients, recipients []string) error {
	if c.Identity == nil {
		return fmt.Errorf("%w: spec.encryption needs the controller's age identity, which this process has not", errInvalid)
	}
	own, err := c.Identity(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", errIdentity, err)
	}
	enc, err := secrets.NewEncrypter(recipients, own)
	if err != nil {
		return fmt.Errorf("%w: spec.encryption.ageRecipients: %w", errInvalid, err)
	}
	t.AgeRecipients, t.Encrypter = recipients, enc
	return nil
}

// IdentityLoader reads (or creates, once) the controller's age identity from the Secret
// namespace/name the first time a destination needs it, and keeps it for the process.
func IdentityLoader(kube kubernetes.Interface, namespace, name string) func(context.Context) (*age.X25519Identity, error) {
	var (
		mu sync.Mutex
		id *age.X25519Identity
	)
	return func(ctx context.Context) (*age.X25519Identity, error) {
		mu.Lock()
		defer mu.Unlock()
		if id != nil {
			return id, nil
		}
		loaded, err := secrets.LoadOrCreateIdentity(ctx, kube, namespace, name)
		if err != nil {
			return nil, err
		}
		id = loaded
		return id, nil
	}
}
