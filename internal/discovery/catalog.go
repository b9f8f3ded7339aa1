package discovery

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// Catalog is what discovery returned: groups with their preferred versions, the resource
// lists per group version, and the group versions that failed to answer (partial discovery).
type Catalog struct {
	Groups    []metav1.APIGroup
	Resources []*metav1.APIResourceList
	Failed    map[schema.GroupVersion]error
}

// Fetch asks the server for its groups and resources. A partial failure
// (*discovery.ErrGroupDiscoveryFailed, typically an aggregated API that is down) is not an
// error: the group versions that failed go to Catalog.Failed and the rest is usable.
func Fetch(ctx context.Context, dc discovery.DiscoveryInterface) (*Catalog, error) {
	groups, lists, err := discovery.ToDiscoveryInterfaceWithContext(dc).ServerGroupsAndResourcesWithContext(ctx)
	var failed *discovery.ErrGroupDiscoveryFailed
	if err != nil && !errors.As(err, &failed) {
		return nil, fmt.Errorf("discover server resources: %w", err)
	}
	// A cancelled request can surface as every group version failing; that is no catalog.
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, fmt.Errorf("discover server resources: %w", ctxErr)
	}
	c := &Catalog{Resources: lists}
	for _, g := range groups {
		if g != nil {
			c.Groups = append(c.Groups, *g)
		}
	}
	if failed != nil && len(failed.Groups) > 0 {
		c.Failed = make(map[schema.GroupVersion]error, len(failed.Groups))
		for gv, gvErr := range failed.Groups {
			c.Failed[gv] = gvErr
		}
	}
	return c, nil
}

// Unavailable reports whether a resource's files must be kept because discovery could not
// tell whether it still exists: some version of its group failed discovery. The whole group
// counts, not only the failed version, because a failed version's resource list is unknown
// and a rule may ask for exactly that version; keeping an orphan a little longer is cheaper
// than deleting a file whose object still exists.
func (c *Catalog) Unavailable(gr schema.GroupResource) bool {
	if c == nil {
		return false
	}
	for gv := range c.Failed {
		if gv.Group == gr.Group {
			return true
		}
	}
	return false
}

// failedGroup reports whether some version of the group failed discovery.
func (c *Catalog) failedGroup(group string) bool {
	return c.Unavailable(schema.GroupResource{Group: group})
}
