package discovery

import (
	"errors"
	"fmt"
	"strings"
)

// Scope says which resources a rule covers: cluster-scoped, namespaced, or both.
type Scope string

const (
	ScopeCluster    Scope = "Cluster"
	ScopeNamespaced Scope = "Namespaced"
	ScopeAll        Scope = "*"
)

// Rule is one entry of a WatchRule's or ClusterWatchRule's spec.rules.
type Rule struct {
	APIGroups   []string // "" core, "*" all
	APIVersions []string // empty = the group's preferred version, "*" = every served version
	Resources   []string // plural names, "*" all; "pods/log" (subresource) is invalid
	Scope       Scope    // "" means "*"
}

// ErrInvalidRule is wrapped by every error ValidateRule returns.
var ErrInvalidRule = errors.New("invalid rule")

// ValidateRule checks a rule's shape without asking the server: empty lists, empty entries,
// subresources, versions in apiGroups and unknown scopes are rejected.
func ValidateRule(r Rule) error {
	if len(r.APIGroups) == 0 {
		return fmt.Errorf(`%w: apiGroups is empty (use "" for the core group, "*" for all)`, ErrInvalidRule)
	}
	if len(r.Resources) == 0 {
		return fmt.Errorf(`%w: resources is empty (use "*" for all)`, ErrInvalidRule)
	}
	for _, g := range r.APIGroups {
		if strings.Contains(g, "/") {
			return fmt.Errorf("%w: apiGroups entry %q contains a version; put the version in apiVersions", ErrInvalidRule, g)
		}
	}
	for _, v := range r.APIVersions {
		if v == "" || strings.Contains(v, "/") {
			return fmt.Errorf("%w: apiVersions entry %q is not a version", ErrInvalidRule, v)
		}
	}
	for _, res := range r.Resources {
		if err := validateResource(res); err != nil {
			return err
		}
	}
	switch r.Scope {
	case "", ScopeAll, ScopeCluster, ScopeNamespaced:
		return nil
	default:
		return fmt.Errorf("%w: scope %q is not one of Cluster, Namespaced, *", ErrInvalidRule, r.Scope)
	}
}

func validateResource(res string) error {
	switch {
	case res == "":
		return fmt.Errorf("%w: resources has an empty entry", ErrInvalidRule)
	case strings.Contains(res, "/"):
		return fmt.Errorf("%w: resource %q is a subresource; only whole objects can be watched", ErrInvalidRule, res)
	}
	return nil
}

// covers reports whether the rule's scope includes a resource.
func (s Scope) covers(namespaced bool) bool {
	switch s {
	case ScopeCluster:
		return !namespaced
	case ScopeNamespaced:
		return namespaced
	default:
		return true
	}
}
