package discovery

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	clienttesting "k8s.io/client-go/testing"
)

// fakeServer serves the fixture's resource lists; react, when set, answers the resource request.
func fakeServer(t *testing.T, react clienttesting.ReactionFunc) *fakediscovery.FakeDiscovery {
	t.Helper()
	fake := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{Resources: loadCatalog(t).Resources}}
	if react != nil {
		fake.AddReactor("get", "resource", react)
	}
	return fake
}

func TestFetch(t *testing.T) {
	metricsGV := schema.GroupVersion{Group: "metrics.k8s.io", Version: "v1beta1"}
	unavailable := errors.New("the server is currently unable to handle the request")
	tests := []struct {
		name       string
		react      clienttesting.ReactionFunc
		wantFailed map[schema.GroupVersion]error
		wantErr    bool
	}{
		{name: "complete discovery"},
		{
			name: "partial discovery is not an error",
			react: func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{metricsGV: unavailable}}
			},
			wantFailed: map[schema.GroupVersion]error{metricsGV: unavailable},
		},
		{
			name: "other errors are",
			react: func(clienttesting.Action) (bool, runtime.Object, error) {
				return true, nil, errors.New("connection refused")
			},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Fetch(context.Background(), fakeServer(t, tt.react))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Fetch() = %v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Fetch() error = %v", err)
			}
			fixture := loadCatalog(t)
			if diff := cmp.Diff(fixture.Resources, got.Resources); diff != "" {
				t.Errorf("resources mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFailed, got.Failed, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("failed mismatch (-want +got):\n%s", diff)
			}
			// The fake derives groups from the resource lists (first version preferred), in map order.
			var names []string
			for _, g := range got.Groups {
				names = append(names, g.Name)
			}
			wantNames := []string{"", "apiextensions.k8s.io", "apps", "coordination.k8s.io", "discovery.k8s.io",
				"events.k8s.io", "rbac.authorization.k8s.io", "shop.example.com"}
			if diff := cmp.Diff(wantNames, names, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
				t.Errorf("group names mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFetchCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	partial := func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{{Group: "apps", Version: "v1"}: context.Canceled}}
	}
	if _, err := Fetch(ctx, fakeServer(t, partial)); !errors.Is(err, context.Canceled) {
		t.Errorf("Fetch() error = %v, want context.Canceled", err)
	}
}

// TestFetchThenResolve checks that a fetched catalog resolves like the fixture.
func TestFetchThenResolve(t *testing.T) {
	c, err := Fetch(context.Background(), fakeServer(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Resolve(c, []Rule{{APIGroups: []string{"shop.example.com"}, Resources: []string{"*"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Resource{res("shop.example.com/v1", "icecreamorders", "IceCreamOrder", true, false)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resolve() mismatch (-want +got):\n%s", diff)
	}
}
