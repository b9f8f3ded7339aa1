package oneshot

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/cluster"
	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/resync"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// FieldManager is the field manager of restore's server-side applies.
const FieldManager = "gitops-reverser-restore"

// Existing says what restore does with an object that already exists.
type Existing string

const (
	// ExistingSkip leaves it as it is, with a warning when it differs from the file.
	ExistingSkip Existing = "skip"
	// ExistingUpdate applies the file, taking the fields it names from other managers.
	ExistingUpdate Existing = "update"
)

// RestoreOptions are what restore adds to a selection of files.
type RestoreOptions struct {
	Existing Existing
	// Prune deletes live objects of the selected resources and namespaces that Git lacks.
	Prune bool
	// DryRun sends everything as a server-side dry run.
	DryRun bool
	// Paths limit the files to these (repository paths, or folders of them); empty: all.
	Paths []string
	// Progress shows a progress bar (a terminal) instead of a line per object.
	Progress bool
}

// ErrRestoreFailed is Restore's answer when any object failed; the report says which.
var ErrRestoreFailed = errors.New("some objects were not restored")

// restoreItem is one file to restore. Its content is read only when it is applied, so a
// restore holds little of each file.
type restoreItem struct {
	path    string
	key     snapshot.Key // parsed from path
	mapping *meta.RESTMapping
	applied bool // created, updated or unchanged
}

// Restore server-side applies the selected files of o.Repo at o.Ref, in dependency order:
// Namespaces, CRDs (until Established), the kinds others depend on, the rest, and admission
// webhooks, admission policies and APIServices last. One bad file fails only itself. It
// prints a line per object to o.Out.
func Restore(ctx context.Context, o Options, r RestoreOptions) error {
	o = o.withDefaults()
	if r.Existing == "" {
		r.Existing = ExistingSkip
	}
	// Thousands of applies at the client's default 50 requests a second would take minutes;
	// the API server's priority and fairness protects it, as it does from kubectl.
	cfg := rest.CopyConfig(o.Config)
	cfg.QPS, cfg.Burst = 1000, 2000
	c, err := cluster.New(cfg)
	if err != nil {
		return err
	}
	if err := o.repoExists(); err != nil {
		return err
	}
	sel, err := restoreSelection(o)
	if err != nil {
		return err
	}
	repo, err := gitrepo.Open(ctx, gitrepo.Options{URL: o.Repo, Branch: o.Branch, Auth: o.Auth, Log: o.Log})
	if err != nil {
		return err
	}
	defer repo.Close()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Discovery))
	rs := &restorer{o: o, r: r, dyn: c.Dynamic, mapper: mapper, sel: sel}
	rs.defaulter, _ = defaulter(ctx, o, c)
	err = repo.ViewAt(ctx, o.Ref, func(ctx context.Context, head gitrepo.Head) error {
		rs.head = head
		items, err := listItems(head, o, r, sel)
		if err != nil {
			return err
		}
		if r.Progress {
			rs.bar = progressbar.NewOptions(len(items), progressbar.OptionSetWriter(o.Summary), progressbar.OptionSetDescription("restore"), progressbar.OptionClearOnFinish())
		}
		rs.run(ctx, items)
		if rs.bar != nil {
			_ = rs.bar.Finish()
			rs.bar = nil // prune prints its lines
		}
		if r.Prune {
			rs.prune(ctx, items)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Summary, "restore: %d created, %d updated, %d unchanged, %d skipped, %d deleted, %d failed%s\n",
		rs.counts["created"], rs.counts["updated"], rs.counts["unchanged"], rs.counts["skipped"], rs.counts["deleted"], rs.counts["failed"], dryRunNote(r))
	if rs.counts["failed"] > 0 {
		return fmt.Errorf("%w: %d", ErrRestoreFailed, rs.counts["failed"])
	}
	return nil
}

func dryRunNote(r RestoreOptions) string {
	if r.DryRun {
		return " (server dry run: nothing changed)"
	}
	return ""
}

// selection is what restore takes of a repository: resources by group and name (either may be
// "*"), namespaces, and a label selector. Cluster-scoped objects come only with -A, except the
// selected Namespaces themselves.
type selection struct {
	resources  []schema.GroupResource // nil: every resource
	all        bool                   // -A
	namespaces map[string]bool
	labels     labels.Selector // nil: everything
	system     bool            // --include-system-objects
}

var namespacesGR = schema.GroupResource{Resource: "namespaces"}

func restoreSelection(o Options) (selection, error) {
	s := selection{all: o.AllNamespaces, namespaces: map[string]bool{}, system: o.IncludeSystemObjects}
	rules, err := ParseResources(o.Resources)
	if err != nil {
		return s, err
	}
	for _, rule := range rules {
		gr := schema.GroupResource{Group: rule.APIGroups[0], Resource: rule.Resources[0]}
		if gr.Group == "*" && gr.Resource == "*" {
			s.resources = nil
			break
		}
		s.resources = append(s.resources, gr)
	}
	for _, ns := range o.Namespaces {
		s.namespaces[ns] = true
	}
	if o.Selector != "" {
		if s.labels, err = labels.Parse(o.Selector); err != nil {
			return s, fmt.Errorf("--selector: %w", err)
		}
	}
	return s, nil
}

func (s selection) takesResource(gr schema.GroupResource) bool {
	if s.resources == nil {
		return true
	}
	for _, r := range s.resources {
		if (r.Group == "*" || r.Group == gr.Group) && (r.Resource == "*" || r.Resource == gr.Resource) {
			return true
		}
	}
	return false
}

func (s selection) takes(k snapshot.Key) bool {
	switch {
	case !s.takesResource(k.Resource):
		return false
	case k.Namespace == "":
		return s.all || (k.Resource == namespacesGR && s.namespaces[k.Name])
	default:
		return s.all || s.namespaces[k.Namespace]
	}
}

// listItems lists the selected files of head, by path.
func listItems(head gitrepo.Head, o Options, r RestoreOptions, sel selection) ([]*restoreItem, error) {
	files, err := head.Files(o.BaseFolder)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.Ref, err)
	}
	var items []*restoreItem
	for p := range files {
		if k, ok := snapshot.ParsePath(o.BaseFolder, p); ok && sel.takes(k) && underPaths(p, r.Paths) {
			items = append(items, &restoreItem{path: p, key: k})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].path < items[j].path })
	return items, nil
}

// errNotSelected is read's answer for a file whose object the label selector does not take.
var errNotSelected = errors.New("not selected")

// read reads and checks the item's file: one that does not parse, does not decrypt or does not match
// its path fails. It returns the object and the file, decrypted.
func (rs *restorer) read(it *restoreItem) (*unstructured.Unstructured, []byte, error) {
	rs.readMu.Lock()
	content, _, err := rs.head.Read(it.path)
	rs.readMu.Unlock()
	if err != nil {
		return nil, nil, fmt.Errorf("read: %w", err)
	}
	if isSecret(it.key) {
		if content, err = secrets.Decrypt(content, rs.o.Identities); err != nil {
			return nil, nil, err
		}
	}
	obj := &unstructured.Unstructured{}
	if err := decodeYAML(content, obj); err != nil || obj.GetAPIVersion() == "" || obj.GetKind() == "" || obj.GetName() == "" {
		return nil, nil, errors.New("the file is not a Kubernetes object")
	}
	k := it.key
	if obj.GetNamespace() != k.Namespace || (snapshot.Path(rs.o.BaseFolder, snapshot.Key{Namespace: obj.GetNamespace(), Resource: k.Resource, Name: obj.GetName()}) != it.path) {
		return nil, nil, fmt.Errorf("the file holds %s %s/%s, which does not belong at this path", obj.GetKind(), obj.GetNamespace(), obj.GetName())
	}
	if rs.sel.labels != nil && !rs.sel.labels.Matches(labels.Set(obj.GetLabels())) {
		return nil, nil, errNotSelected
	}
	return obj, content, nil
}

func underPaths(p string, paths []string) bool {
	if len(paths) == 0 {
		return true
	}
	for _, q := range paths {
		q = strings.TrimSuffix(q, "/")
		if p == q || strings.HasPrefix(p, q+"/") {
			return true
		}
	}
	return false
}

// restorer applies items and reports each.
type restorer struct {
	o      Options
	r      RestoreOptions
	sel    selection
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
	bar    *progressbar.ProgressBar
	head   gitrepo.Head
	// defaulter renders a live object as snapshot did, to see whether it differs from its file.
	defaulter *defaulting.Defaulter
	readMu    sync.Mutex // a clone's object store is not safe for concurrent reads

	mu     sync.Mutex // guards counts and the output
	counts map[string]int
}

// applyWorkers bounds the server-side applies in flight within one priority tier.
const applyWorkers = 8

// priority orders restores (Velero's order for what others depend on): lower first.
func priority(gr schema.GroupResource) int {
	switch gr.String() {
	case "namespaces":
		return 0
	case "customresourcedefinitions.apiextensions.k8s.io":
		return 1
	case "validatingwebhookconfigurations.admissionregistration.k8s.io", "mutatingwebhookconfigurations.admissionregistration.k8s.io",
		"validatingadmissionpolicies.admissionregistration.k8s.io", "validatingadmissionpolicybindings.admissionregistration.k8s.io",
		"mutatingadmissionpolicies.admissionregistration.k8s.io", "mutatingadmissionpolicybindings.admissionregistration.k8s.io",
		"apiservices.apiregistration.k8s.io":
		return 100
	}
	early := []string{"storageclasses.storage.k8s.io", "volumesnapshotclasses.snapshot.storage.k8s.io", "persistentvolumes",
		"persistentvolumeclaims", "serviceaccounts", "secrets", "configmaps", "limitranges", "resourcequotas",
		"roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io",
		"clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io", "priorityclasses.scheduling.k8s.io",
		"services"}
	if i := slices.Index(early, gr.String()); i >= 0 {
		return 2 + i
	}
	return 50
}

func (rs *restorer) run(ctx context.Context, items []*restoreItem) {
	rs.counts = map[string]int{}
	sort.SliceStable(items, func(i, j int) bool {
		return priority(items[i].key.Resource) < priority(items[j].key.Resource)
	})
	// Tiers go one after the other; the objects of one tier, which do not depend on each
	// other, are applied in parallel.
	crdsDone := false
	for start := 0; start < len(items); {
		tier := priority(items[start].key.Resource)
		end := start
		for end < len(items) && priority(items[end].key.Resource) == tier {
			end++
		}
		if !crdsDone && tier > 1 {
			// New CRDs serve their kinds only once Established: wait, then look again.
			rs.waitCRDs(ctx, items)
			rs.mapper.Reset()
			crdsDone = true
		}
		rs.applyAll(ctx, items[start:end])
		start = end
	}
}

// applyAll applies items with at most applyWorkers at once.
func (rs *restorer) applyAll(ctx context.Context, items []*restoreItem) {
	next := make(chan *restoreItem)
	var wg sync.WaitGroup
	for range min(applyWorkers, len(items)) {
		wg.Go(func() {
			for it := range next {
				rs.apply(ctx, it)
			}
		})
	}
	for _, it := range items {
		next <- it
	}
	close(next)
	wg.Wait()
}

// apply restores one object and reports it.
func (rs *restorer) apply(ctx context.Context, it *restoreItem) {
	outcome, err := rs.applyOne(ctx, it)
	if errors.Is(err, errNotSelected) {
		rs.quiet()
		return
	}
	if err != nil {
		rs.report(it.path, "failed: "+oneLine(err))
		return
	}
	it.applied = true
	rs.report(it.path, outcome)
}

func (rs *restorer) applyOne(ctx context.Context, it *restoreItem) (string, error) {
	obj, content, err := rs.read(it)
	if err != nil {
		return "", err
	}
	gvk := obj.GroupVersionKind()
	m, err := rs.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return "", fmt.Errorf("the cluster does not serve %s", gvk.GroupKind())
	}
	if m.Resource.GroupResource() != it.key.Resource {
		return "", fmt.Errorf("the file holds a %s, not %s", gvk.Kind, it.key.Resource)
	}
	it.mapping = m
	ri := resourceFor(rs.dyn, m, obj.GetNamespace())
	live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return "", err
	}
	if exists && rs.r.Existing == ExistingSkip {
		if differs(live, content, isSecret(it.key), rs.defaulter) {
			return "skipped (exists and differs; --existing=update takes the file)", nil
		}
		return "unchanged", nil
	}
	opts := metav1.ApplyOptions{FieldManager: FieldManager, Force: rs.r.Existing == ExistingUpdate}
	if rs.r.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	applied, err := ri.Apply(ctx, obj.GetName(), obj, opts)
	switch {
	case err != nil:
		return "", err
	case !exists:
		return "created", nil
	case !changed(live, applied):
		return "unchanged", nil
	default:
		return "updated", nil
	}
}

// changed reports whether an apply changed the object (a dry run bumps no resourceVersion).
func changed(before, after *unstructured.Unstructured) bool {
	a, err1 := snapshot.Plain(before)
	b, err2 := snapshot.Plain(after)
	return err1 != nil || err2 != nil || string(a) != string(b)
}

// differs reports whether the live object, rendered as snapshot renders it (Clean or Full,
// whichever the file was written in, Clean with or without d's defaulting), is not the file.
func differs(live *unstructured.Unstructured, file []byte, secret bool, d *defaulting.Defaulter) bool {
	renderings := []func() ([]byte, error){
		func() ([]byte, error) { return snapshot.PlainWith(live, snapshot.Clean, d) },
	}
	if d != nil { // without defaulting, the first is this one
		renderings = append(renderings, func() ([]byte, error) { return snapshot.PlainFor(live, snapshot.Clean) })
	}
	renderings = append(renderings, func() ([]byte, error) { return snapshot.PlainFor(live, snapshot.Full) })
	for _, render := range renderings {
		if b, err := render(); err == nil && sameYAML(b, file, secret) {
			return false
		}
	}
	return true
}

// decodeYAML decodes one object, integers as int64 as the API machinery does.
func decodeYAML(doc []byte, obj *unstructured.Unstructured) error {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	return obj.UnmarshalJSON(j)
}

func resourceFor(dyn dynamic.Interface, m *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return dyn.Resource(m.Resource).Namespace(namespace)
	}
	return dyn.Resource(m.Resource)
}

// waitCRDs waits until every restored CRD is Established, at most a minute.
func (rs *restorer) waitCRDs(ctx context.Context, items []*restoreItem) {
	crds := cluster.CRDs
	deadline := time.Now().Add(time.Minute)
	for _, it := range items {
		if !it.applied || it.key.Resource != crds.GroupResource() || rs.r.DryRun {
			continue
		}
		for time.Now().Before(deadline) {
			u, err := rs.dyn.Resource(crds).Get(ctx, it.key.Name, metav1.GetOptions{})
			if err == nil && established(u) {
				break
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// prune deletes the live objects of the restored resources and selected namespaces that Git
// lacks, leaving what snapshot leaves out of Git (objects a controller owns, those the control
// plane maintains) and, without -A, every cluster-scoped object.
func (rs *restorer) prune(ctx context.Context, items []*restoreItem) {
	sel := rs.sel
	want := map[string]bool{}
	mappings := map[schema.GroupVersionResource]*meta.RESTMapping{}
	for _, it := range items {
		want[it.path] = true
		if it.mapping != nil {
			mappings[it.mapping.Resource] = it.mapping
		}
	}
	for _, m := range mappings {
		namespaced := m.Scope.Name() == meta.RESTScopeNameNamespace
		if !namespaced && !sel.all {
			continue
		}
		src := destination.Source{Resource: discovery.Resource{GVR: m.Resource, Namespaced: namespaced}, IncludeSystem: sel.system}
		lists := []string{""}
		if namespaced && !sel.all {
			lists = slices.Sorted(maps.Keys(sel.namespaces))
		}
		// Listed in pages, deleted as they come: a prune holds one page at a time.
		objs := resync.APIObjects{Dynamic: rs.dyn}
		for _, ns := range lists {
			err := objs.Each(ctx, src.Resource, ns, sel.labels, func(u snapshot.Object) {
				k := snapshot.Key{Namespace: u.GetNamespace(), Resource: m.Resource.GroupResource(), Name: u.GetName()}
				p := snapshot.Path(rs.o.BaseFolder, k)
				if !want[p] && sel.takes(k) && src.Accepts(u) {
					rs.delete(ctx, m, k, p)
				}
			})
			if err != nil {
				rs.report(m.Resource.GroupResource().String(), "failed: prune: "+oneLine(err))
			}
		}
	}
}

func (rs *restorer) delete(ctx context.Context, m *meta.RESTMapping, k snapshot.Key, p string) {
	opts := metav1.DeleteOptions{}
	if rs.r.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	err := resourceFor(rs.dyn, m, k.Namespace).Delete(ctx, k.Name, opts)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		rs.report(p, "failed: "+oneLine(err))
	default:
		rs.report(p, "deleted")
	}
}

// quiet counts an item on the progress bar that is not reported: a file whose object the
// label selector does not take.
func (rs *restorer) quiet() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.bar != nil {
		_ = rs.bar.Add(1)
	}
}

func (rs *restorer) report(p, outcome string) {
	word, _, _ := strings.Cut(outcome, " ")
	word = strings.TrimSuffix(word, ":")
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.counts[word]++
	if rs.bar != nil {
		_ = rs.bar.Add(1)
		if word != "failed" {
			return
		}
	}
	fmt.Fprintf(rs.o.Out, "%s %s\n", p, outcome)
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }
