package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	configMaps = schema.GroupResource{Resource: "configmaps"}
	namespaces = schema.GroupResource{Resource: "namespaces"}
	crds       = schema.GroupResource{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"}
	orders     = schema.GroupResource{Group: "shop.example.com", Resource: "icecreamorders"}
)

// TestPathRoundTrip maps keys to paths and back; the paths are the examples of README.md, "What ends up in Git".
func TestPathRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		base        string
		key         Key
		wantPath    string
		wantSubject string
	}{
		{
			name:        "core namespaced",
			key:         Key{Namespace: "default", Resource: configMaps, Name: "app"},
			wantPath:    "default/configmaps/app.yaml",
			wantSubject: "default/configmaps/app",
		},
		{
			name:        "grouped namespaced",
			key:         Key{Namespace: "shop", Resource: schema.GroupResource{Group: "apps", Resource: "deployments"}, Name: "web"},
			wantPath:    "shop/deployments.apps/web.yaml",
			wantSubject: "shop/deployments.apps/web",
		},
		{
			name:        "custom resource",
			key:         Key{Namespace: "sut", Resource: orders, Name: "alices-order"},
			wantPath:    "sut/icecreamorders.shop.example.com/alices-order.yaml",
			wantSubject: "sut/icecreamorders.shop.example.com/alices-order",
		},
		{
			name:        "cluster-scoped name with dots",
			key:         Key{Resource: crds, Name: "icecreamorders.shop.example.com"},
			wantPath:    "_cluster/customresourcedefinitions.apiextensions.k8s.io/icecreamorders.shop.example.com.yaml",
			wantSubject: "_cluster/customresourcedefinitions.apiextensions.k8s.io/icecreamorders.shop.example.com",
		},
		{
			name:        "cluster-scoped core",
			key:         Key{Resource: namespaces, Name: "default"},
			wantPath:    "_cluster/namespaces/default.yaml",
			wantSubject: "_cluster/namespaces/default",
		},
		{
			name:        "name with dots and colon",
			key:         Key{Resource: schema.GroupResource{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}, Name: "system:aggregate-to.view"},
			wantPath:    "_cluster/clusterroles.rbac.authorization.k8s.io/system:aggregate-to.view.yaml",
			wantSubject: "_cluster/clusterroles.rbac.authorization.k8s.io/system:aggregate-to.view",
		},
		{
			name:        "base folder",
			base:        "clusters/prod",
			key:         Key{Namespace: "default", Resource: configMaps, Name: "app"},
			wantPath:    "clusters/prod/default/configmaps/app.yaml",
			wantSubject: "default/configmaps/app",
		},
		{
			name:        "base folder with trailing slash",
			base:        "clusters/prod/",
			key:         Key{Resource: namespaces, Name: "shop"},
			wantPath:    "clusters/prod/_cluster/namespaces/shop.yaml",
			wantSubject: "_cluster/namespaces/shop",
		},
		{
			name:        "base folder not clean",
			base:        "./clusters//prod",
			key:         Key{Namespace: "default", Resource: configMaps, Name: "app"},
			wantPath:    "clusters/prod/default/configmaps/app.yaml",
			wantSubject: "default/configmaps/app",
		},
		{
			name:        "base folder dot is the root",
			base:        ".",
			key:         Key{Namespace: "default", Resource: configMaps, Name: "app"},
			wantPath:    "default/configmaps/app.yaml",
			wantSubject: "default/configmaps/app",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Path(tc.base, tc.key)
			if diff := cmp.Diff(tc.wantPath, p); diff != "" {
				t.Errorf("Path (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantSubject, Subject(tc.key)); diff != "" {
				t.Errorf("Subject (-want +got):\n%s", diff)
			}
			got, ok := ParsePath(tc.base, p)
			if !ok {
				t.Fatalf("ParsePath(%q, %q) = not ours", tc.base, p)
			}
			if diff := cmp.Diff(tc.key, got); diff != "" {
				t.Errorf("ParsePath (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParsePathForeign lists files a user or another tool keeps in the repository: they must
// never parse as ours, or the resync would delete them as orphans.
func TestParsePathForeign(t *testing.T) {
	tests := []struct {
		name string
		base string
		path string
	}{
		{name: "readme", path: "README.md"},
		{name: "kustomization", path: "kustomization.yaml"},
		{name: "kustomization in a namespace folder", path: "default/kustomization.yaml"},
		{name: "too deep", path: "a/b/c/d.yaml"},
		{name: "yml extension", path: "x/y/z.yml"},
		{name: "no extension", path: "default/configmaps/app"},
		{name: "empty name", path: "default/configmaps/.yaml"},
		{name: "empty namespace", path: "/configmaps/app.yaml"},
		{name: "empty resource", path: "default//app.yaml"},
		{name: "outside base folder", base: "clusters/prod", path: "default/configmaps/app.yaml"},
		{name: "sibling of base folder", base: "clusters/prod", path: "clusters/production/default/configmaps/app.yaml"},
		{name: "readme in base folder", base: "clusters/prod", path: "clusters/prod/README.md"},
		{name: "too deep in base folder", base: "clusters/prod", path: "clusters/prod/a/b/c/d.yaml"},
		{name: "folder that cannot be a namespace", path: ".github/workflows/ci.yaml"},
		{name: "upper-case folder", path: "Docs/guides/setup.yaml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, ok := ParsePath(tc.base, tc.path); ok {
				t.Errorf("ParsePath(%q, %q) = %+v, want not ours", tc.base, tc.path, got)
			}
		})
	}
}

// TestStem: names whose file would exceed 255 bytes, and names that look shortened, get
// {first 200 bytes}-{16 hex of sha256(name)}; the rest stay as they are.
func TestStem(t *testing.T) {
	n := func(c string, count int) string { return strings.Repeat(c, count) }
	long := n("a", 253)
	tests := []struct {
		name, in, want string
	}{
		{"short", "app", "app"},
		{"250 bytes fits", n("b", 250), n("b", 250)},
		{"251 bytes is 256 with .yaml", n("c", 251), n("c", 200) + "-" + sha16(n("c", 251))},
		{"253, the DNS limit", long, n("a", 200) + "-" + sha16(long)},
		{"1000 bytes", n("d", 1000), n("d", 200) + "-" + sha16(n("d", 1000))},
		// A short name shaped like a shortened one would take the long name's file: it is
		// shortened too, to a stem of its own.
		{"looks shortened", n("a", 200) + "-" + sha16(long), n("a", 200) + "-" + sha16(n("a", 200)+"-"+sha16(long))},
		{"almost looks shortened", n("a", 200) + "-" + strings.ToUpper(sha16(long)), n("a", 200) + "-" + strings.ToUpper(sha16(long))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Stem(tc.in)
			if got != tc.want {
				t.Errorf("Stem = %q, want %q", got, tc.want)
			}
			if len(got)+len(".yaml") > 255 {
				t.Errorf("file name is %d bytes", len(got)+len(".yaml"))
			}
			p := Path("base", Key{Namespace: "default", Resource: configMaps, Name: tc.in})
			if want := "base/default/configmaps/" + tc.want + ".yaml"; p != want {
				t.Errorf("Path = %q, want %q", p, want)
			}
			k, ok := ParsePath("base", p)
			if !ok || k != (Key{Namespace: "default", Resource: configMaps, Name: tc.in}).FileKey() {
				t.Errorf("ParsePath = %+v, %v; want the FileKey, ours", k, ok)
			}
		})
	}
	if Stem(long) == Stem(long[:252]+"b") {
		t.Error("two long names with the same first 200 bytes share a file")
	}
}

func sha16(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:16]
}
