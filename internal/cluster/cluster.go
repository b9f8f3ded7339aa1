// Package cluster owns the connection to the API server: the clients every part of
// gitops-reverser reads and writes through, made once from a rest.Config, and the catalog of
// what the server serves.
package cluster

import (
	"context"
	"fmt"

	clientdiscovery "k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
)

// Clients are the API clients of one process.
type Clients struct {
	Dynamic   dynamic.Interface
	Kube      kubernetes.Interface
	Discovery clientdiscovery.DiscoveryInterface
}

// New makes the clients of cfg.
func New(cfg *rest.Config) (*Clients, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	return &Clients{Dynamic: dyn, Kube: kube, Discovery: dc}, nil
}

// Catalog is what the server serves now.
func (c *Clients) Catalog(ctx context.Context) (*discovery.Catalog, error) {
	cat, err := discovery.Fetch(ctx, c.Discovery)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	return cat, nil
}

// Connect makes the clients of cfg and reads what the server serves.
func Connect(ctx context.Context, cfg *rest.Config) (*Clients, *discovery.Catalog, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	cat, err := c.Catalog(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c, cat, nil
}
