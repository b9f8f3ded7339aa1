//go:build ignore

// gather copies the Gateway API part of the corpus from the Go module cache: the CRDs of
// its standard channel, with their schemas' descriptions removed (they are most of the bytes
// and do not change what the server stores or defaults), and examples of its documentation,
// unchanged. Run from the repository root:
//
//	go run internal/snapshot/testdata/corpus/gather.go
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

const module = "sigs.k8s.io/gateway-api@v1.6.3"

var crds = []string{
	"config/crd/standard/gateway.networking.k8s.io_gatewayclasses.yaml",
	"config/crd/standard/gateway.networking.k8s.io_gateways.yaml",
	"config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
	"config/crd/standard/gateway.networking.k8s.io_grpcroutes.yaml",
	"config/crd/standard/gateway.networking.k8s.io_referencegrants.yaml",
}

var examples = []string{
	"examples/standard/simple-gateway/gateway.yaml",
	"examples/standard/simple-gateway/httproute.yaml",
	"examples/standard/http-routing/gateway.yaml",
	"examples/standard/http-routing/foo-httproute.yaml",
	"examples/standard/http-routing/bar-httproute.yaml",
	"examples/standard/traffic-splitting/simple-split.yaml",
	"examples/standard/traffic-splitting/traffic-split-1.yaml",
	"examples/standard/traffic-splitting/grpc-traffic-split-2.yaml",
	"examples/standard/basic-grpc.yaml",
	"examples/standard/grpc-routing/gateway.yaml",
	"examples/standard/http-filter.yaml",
	"examples/standard/reference-grant.yaml",
	"examples/standard/default-match-http.yaml",
	"examples/standard/http-redirect-rewrite/gateway-redirect-http-https.yaml",
	"examples/standard/http-redirect-rewrite/httproute-redirect-full.yaml",
	"examples/standard/http-redirect-rewrite/httproute-rewrite-prefix-path.yaml",
}

func main() {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	if err != nil {
		fail(err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil {
		fail(err)
	}
	dst := "internal/snapshot/testdata/corpus"
	name := func(p string) string { return filepath.Join(dst, "gateway-api_"+strings.ReplaceAll(p, "/", "_")) }
	for _, p := range crds {
		b, err := os.ReadFile(filepath.Join(m.Dir, p))
		if err != nil {
			fail(err)
		}
		var crd map[string]any
		if err := yaml.Unmarshal(b, &crd); err != nil {
			fail(err)
		}
		dropDescriptions(crd)
		b, err = yaml.Marshal(crd)
		if err != nil {
			fail(err)
		}
		header := fmt.Sprintf("# %s/%s, descriptions removed\n", module, p)
		if err := os.WriteFile(name(p), append([]byte(header), b...), 0o644); err != nil {
			fail(err)
		}
	}
	for _, p := range examples {
		b, err := os.ReadFile(filepath.Join(m.Dir, p))
		if err != nil {
			fail(err)
		}
		if err := os.WriteFile(name(p), b, 0o644); err != nil {
			fail(err)
		}
	}
}

// dropDescriptions removes every string-valued "description" (a property named description
// is a schema, a map, and stays).
func dropDescriptions(x any) {
	switch x := x.(type) {
	case map[string]any:
		if _, ok := x["description"].(string); ok {
			delete(x, "description")
		}
		for _, v := range x {
			dropDescriptions(v)
		}
	case []any:
		for _, v := range x {
			dropDescriptions(v)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
