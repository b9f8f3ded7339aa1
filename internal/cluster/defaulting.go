package cluster

import (
	"context"
	"fmt"
	"log/slog"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
)

// CRDs is the resource of CustomResourceDefinitions.
var CRDs = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// Defaulting is the server's defaulting for Clean files, with the custom resources of schemas.
// For a server whose version the compiled defaulting is not exact for (or whose version
// cannot be read) it is nil, and note says why Clean then keeps the server's defaults.
func (c *Clients) Defaulting(schemas *defaulting.Schemas) (d *defaulting.Defaulter, note string) {
	d = defaulting.New(schemas)
	if _, note, err := c.FollowServer(d); err != nil || note != "" {
		return nil, note
	}
	return d, ""
}

// FollowServer reads the server's version and sets d to it (defaulting.SetServer): changed
// reports whether what d leaves out changed, and note why Clean keeps the server's defaults
// ("" when it does not). A version that cannot be read leaves d as it was and is err, with its
// note; for a d never set, that keeps the defaults.
func (c *Clients) FollowServer(d *defaulting.Defaulter) (changed bool, note string, err error) {
	info, err := c.Discovery.ServerVersion()
	if err != nil {
		return false, fmt.Sprintf("Clean keeps server defaults: the API server's version cannot be read: %v", err), fmt.Errorf("read the API server's version: %w", err)
	}
	changed, err = d.SetServer(info.Major, info.Minor)
	if err != nil {
		return changed, "Clean keeps server defaults: " + err.Error(), nil
	}
	return changed, "", nil
}

// ListSchemas reads the schemas of the CRDs that have defaults, for a command that runs once.
// A CRD whose schema cannot be read, or a list that fails (no right to list CRDs), leaves its
// custom resources with their defaults written: logged, never a guess.
func ListSchemas(ctx context.Context, log *slog.Logger, dyn dynamic.Interface) *defaulting.Schemas {
	schemas := defaulting.NewSchemas()
	l, err := dyn.Resource(CRDs).List(ctx, metav1.ListOptions{})
	if err != nil {
		log.Warn("CRDs not listed: custom resources keep their schema defaults", "err", err)
		return schemas
	}
	for i := range l.Items {
		if err := schemas.SetUnstructured(&l.Items[i]); err != nil {
			log.Warn("CRD schema not read: its custom resources keep their defaults", "crd", l.Items[i].GetName(), "err", err)
		}
	}
	return schemas
}
