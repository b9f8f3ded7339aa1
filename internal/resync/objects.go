package resync

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/pager"

	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// PageSize is the number of objects asked for in one list call.
const PageSize = 500

// APIObjects lists objects straight from the API server in pages.
type APIObjects struct {
	Dynamic dynamic.Interface
}

var _ Objects = APIObjects{}

// Each implements Objects.
func (a APIObjects) Each(ctx context.Context, res discovery.Resource, namespace string, selector labels.Selector, fn func(snapshot.Object)) error {
	ri := a.Dynamic.Resource(res.GVR)
	var lister dynamic.ResourceInterface = ri
	if res.Namespaced && namespace != "" {
		lister = ri.Namespace(namespace)
	}
	p := pager.New(pager.SimplePageFunc(func(opts metav1.ListOptions) (runtime.Object, error) {
		return lister.List(ctx, opts)
	}))
	p.PageSize = PageSize
	opts := metav1.ListOptions{}
	if selector != nil {
		opts.LabelSelector = selector.String()
	}
	err := p.EachListItem(ctx, opts, func(o runtime.Object) error {
		if u, ok := o.(*unstructured.Unstructured); ok {
			fn(u)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list %s: %w", res.GVR.String(), err)
	}
	return nil
}
