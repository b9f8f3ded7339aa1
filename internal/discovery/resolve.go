package discovery

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource is one resource to watch.
type Resource struct {
	GVR        schema.GroupVersionResource
	Kind       string
	Namespaced bool
	// Named: some rule named this resource explicitly (not only through "*"). Controller-owned
	// objects (a controller ownerReference) are kept for named resources and left out otherwise.
	Named bool
	// Scale: the resource has a scale subresource (kubectl scale writes through it).
	Scale bool
}

// UnknownError lists rule entries that match nothing watchable in discovery: a resource name
// ("configmapz", or "widgets.example.com" when the rule names one group), a group that is not
// served ("example.com"), or a version no matched group serves ("shop.example.com/v3").
// Resolve returns it together with the resources it could resolve, so the caller can report
// it and still watch the rest.
type UnknownError struct{ Names []string }

func (e *UnknownError) Error() string {
	return "rules name what the server does not serve: " + strings.Join(e.Names, ", ")
}

// noisy resources change all the time and mean nothing in Git: "*" leaves them out, naming
// them includes them.
var noisy = map[schema.GroupResource]bool{
	{Resource: "events"}:                                    true,
	{Group: "events.k8s.io", Resource: "events"}:            true,
	{Group: "coordination.k8s.io", Resource: "leases"}:      true,
	{Resource: "endpoints"}:                                 true,
	{Group: "discovery.k8s.io", Resource: "endpointslices"}: true,
}

// Resolve merges all rules into a deduplicated list of resources to watch, sorted by group
// and resource. Only resources with the list and watch verbs count; subresources never do.
// One version is watched per group+resource, so that each object has one file: the group's
// preferred version when a rule allows it, else the first version the first such rule allows.
//
// An invalid rule fails the whole call (the error wraps ErrInvalidRule). Entries that match
// nothing give an *UnknownError beside the resources that did resolve. Groups that failed
// discovery are never reported as unknown: they may serve the name once they answer again.
func Resolve(c *Catalog, rules []Rule) ([]Resource, error) {
	for i, r := range rules {
		if err := ValidateRule(r); err != nil {
			return nil, fmt.Errorf("rule %d: %w", i, err)
		}
	}
	ix := newIndex(c)
	picked := map[schema.GroupResource]*pick{}
	unknown := map[string]bool{}
	for _, r := range rules {
		ix.resolveRule(r, picked, unknown)
	}
	out := make([]Resource, 0, len(picked))
	for _, p := range picked {
		out = append(out, p.res)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].GVR, out[j].GVR
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Resource < b.Resource
	})
	if len(unknown) > 0 {
		names := make([]string, 0, len(unknown))
		for n := range unknown {
			names = append(names, n)
		}
		sort.Strings(names)
		return out, &UnknownError{Names: names}
	}
	return out, nil
}

// pick is the version chosen for one group+resource so far.
type pick struct {
	res       Resource
	preferred bool
}

// merge folds one rule's candidate into the choice: Named is OR-ed, and the preferred version
// replaces a non-preferred one; otherwise the earlier rule's version stays.
func merge(picked map[schema.GroupResource]*pick, cand pick) {
	gr := cand.res.GVR.GroupResource()
	p, ok := picked[gr]
	if !ok {
		picked[gr] = &cand
		return
	}
	named := p.res.Named || cand.res.Named
	if cand.preferred && !p.preferred {
		*p = cand
	}
	p.res.Named = named
}

// index is a Catalog arranged for lookups.
type index struct {
	c      *Catalog
	groups map[string]metav1.APIGroup
	names  []string // group names, sorted, for "*"
	lists  map[schema.GroupVersion][]metav1.APIResource
}

func newIndex(c *Catalog) *index {
	if c == nil {
		c = &Catalog{}
	}
	ix := &index{c: c, groups: map[string]metav1.APIGroup{}, lists: map[schema.GroupVersion][]metav1.APIResource{}}
	for _, g := range c.Groups {
		if _, dup := ix.groups[g.Name]; !dup {
			ix.names = append(ix.names, g.Name)
		}
		ix.groups[g.Name] = g
	}
	sort.Strings(ix.names)
	for _, l := range c.Resources {
		if l == nil {
			continue
		}
		if gv, err := schema.ParseGroupVersion(l.GroupVersion); err == nil {
			ix.lists[gv] = append(ix.lists[gv], l.APIResources...)
		}
	}
	return ix
}

// ruleResult is what one rule found, for reporting unknown entries.
type ruleResult struct {
	found     map[string]bool // resource names picked in some group
	served    map[string]bool // listed versions some existing matched group serves
	live      bool            // some existing matched group serves an allowed version
	uncertain bool            // some matched group failed discovery
}

func (ix *index) resolveRule(r Rule, picked map[schema.GroupResource]*pick, unknown map[string]bool) {
	res := ruleResult{found: map[string]bool{}, served: map[string]bool{}}
	groups := ix.matchGroups(r.APIGroups, unknown, &res)
	for _, name := range groups {
		if ix.c.failedGroup(name) {
			res.uncertain = true
		}
		g := ix.groups[name]
		versions := allowedVersions(g, r.APIVersions)
		for _, v := range versions {
			res.served[v] = true
		}
		if len(versions) > 0 {
			res.live = true
		}
		ix.resolveGroup(r, g, versions, picked, res.found)
	}
	if res.uncertain {
		return
	}
	single := ""
	if len(r.APIGroups) == 1 && r.APIGroups[0] != "*" {
		single = r.APIGroups[0]
	}
	reportVersions(r.APIVersions, single, len(groups) > 0, res.served, unknown)
	if !res.live {
		return
	}
	for _, n := range r.Resources {
		if n != "*" && !res.found[n] {
			unknown[schema.GroupResource{Group: single, Resource: n}.String()] = true
		}
	}
}

// matchGroups expands "*" to every served group and reports named groups that are not served.
func (ix *index) matchGroups(apiGroups []string, unknown map[string]bool, res *ruleResult) []string {
	if slices.Contains(apiGroups, "*") {
		// A failed group may be missing from the group list too.
		res.uncertain = res.uncertain || len(ix.c.Failed) > 0
		return ix.names
	}
	var out []string
	for _, g := range apiGroups {
		_, ok := ix.groups[g]
		switch {
		case ok:
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		case ix.c.failedGroup(g):
			res.uncertain = true
		default:
			unknown[g] = true
		}
	}
	return out
}

// reportVersions adds listed versions that no existing matched group serves.
func reportVersions(apiVersions []string, single string, anyGroup bool, served map[string]bool, unknown map[string]bool) {
	if !anyGroup {
		return // the groups themselves are reported
	}
	for _, v := range apiVersions {
		if v != "*" && !served[v] {
			unknown[schema.GroupVersion{Group: single, Version: v}.String()] = true
		}
	}
}

// allowedVersions lists the versions of g a rule allows, in the order they are tried: the
// preferred version first when allowed, then the rest in the rule's order ("*" and an empty
// list follow the server's order).
func allowedVersions(g metav1.APIGroup, apiVersions []string) []string {
	preferred := g.PreferredVersion.Version
	if len(apiVersions) == 0 {
		if preferred == "" {
			return nil
		}
		return []string{preferred}
	}
	wanted := apiVersions
	if slices.Contains(apiVersions, "*") {
		wanted = nil
		for _, v := range g.Versions {
			wanted = append(wanted, v.Version)
		}
	}
	var out []string
	if slices.Contains(wanted, preferred) && serves(g, preferred) {
		out = append(out, preferred)
	}
	for _, v := range wanted {
		if serves(g, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func serves(g metav1.APIGroup, version string) bool {
	return slices.ContainsFunc(g.Versions, func(v metav1.GroupVersionForDiscovery) bool { return v.Version == version })
}

// resolveGroup picks, for each resource of g the rule matches, the first allowed version that
// serves it.
func (ix *index) resolveGroup(r Rule, g metav1.APIGroup, versions []string, picked map[schema.GroupResource]*pick, found map[string]bool) {
	seen := map[string]bool{}
	for _, v := range versions {
		gv := schema.GroupVersion{Group: g.Name, Version: v}
		for _, ar := range ix.lists[gv] {
			named, ok := matches(r, g.Name, ar)
			if !ok || seen[ar.Name] {
				continue
			}
			seen[ar.Name] = true
			found[ar.Name] = true
			merge(picked, pick{
				res: Resource{
					GVR:        gv.WithResource(ar.Name),
					Kind:       ar.Kind,
					Namespaced: ar.Namespaced,
					Named:      named,
					Scale:      hasSubresource(ix.lists[gv], ar.Name, "scale"),
				},
				preferred: v == g.PreferredVersion.Version,
			})
		}
	}
}

// matches reports whether the rule selects a resource, and whether it names it explicitly.
func matches(r Rule, group string, ar metav1.APIResource) (named, ok bool) {
	if strings.Contains(ar.Name, "/") || !watchable(ar) || !r.Scope.covers(ar.Namespaced) {
		return false, false
	}
	if slices.Contains(r.Resources, ar.Name) {
		return true, true
	}
	wild := slices.Contains(r.Resources, "*") && !noisy[schema.GroupResource{Group: group, Resource: ar.Name}]
	return false, wild
}

func hasSubresource(list []metav1.APIResource, resource, sub string) bool {
	return slices.ContainsFunc(list, func(ar metav1.APIResource) bool { return ar.Name == resource+"/"+sub })
}

func watchable(ar metav1.APIResource) bool {
	return slices.Contains(ar.Verbs, "list") && slices.Contains(ar.Verbs, "watch")
}
