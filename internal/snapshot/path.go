package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ClusterScope is the folder that stands in for the namespace of cluster-scoped objects.
const ClusterScope = "_cluster"

// Key identifies one object by the parts of its path.
type Key struct {
	// Namespace is the object's namespace, "" for cluster-scoped objects.
	Namespace string
	Resource  schema.GroupResource
	// Name is the object's name; in a Key from ParsePath, the file name without .yaml, which
	// for a shortened name (Stem) is not the object's name: read that from metadata.name.
	Name string
}

// Path maps an object to its file: {baseFolder}/{namespace|_cluster}/{resource}[.{group}]/{Stem(name)}.yaml.
func Path(baseFolder string, k Key) string {
	return path.Join(CleanBase(baseFolder), Dir(k.Namespace, k.Resource), Stem(k.Name)+".yaml")
}

// File name limits (README.md, "What ends up in Git"): most file systems refuse
// longer names, and object names may be 253 bytes or, for some resources, longer.
const (
	maxFileName = 255
	keptBytes   = 200 // of a name that is shortened
	hashHex     = 16  // hex digits of sha256(name) after them
	shortLen    = keptBytes + 1 + hashHex
)

// Stem is the file name of the object called name, without .yaml: the name itself when
// {name}.yaml fits in 255 bytes, else {the first 200 bytes of name}-{16 hex digits of
// sha256(name)}. A name that already has that shape is shortened too, so that no object's
// stem is another's.
func Stem(name string) string {
	if len(name)+len(".yaml") <= maxFileName && !shortened(name) {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	return name[:min(keptBytes, len(name))] + "-" + hex.EncodeToString(sum[:])[:hashHex]
}

// shortened reports whether stem has the shape of a shortened name.
func shortened(stem string) bool {
	if len(stem) != shortLen || stem[keptBytes] != '-' {
		return false
	}
	for _, c := range []byte(stem[keptBytes+1:]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// FileKey is k as ParsePath reads it back from its path: Name is Stem(k.Name).
func (k Key) FileKey() Key {
	k.Name = Stem(k.Name)
	return k
}

// CleanBase is the canonical form of a base folder: "" for the root, else a clean relative path.
func CleanBase(baseFolder string) string {
	return path.Clean("/" + baseFolder)[1:]
}

// Dir is the folder, relative to baseFolder, that holds the objects of one resource in one namespace.
func Dir(namespace string, gr schema.GroupResource) string {
	ns := namespace
	if ns == "" {
		ns = ClusterScope
	}
	return ns + "/" + ResourceFolder(gr)
}

// ResourceFolder is "resource" for the core group and "resource.group" otherwise.
func ResourceFolder(gr schema.GroupResource) string {
	if gr.Group == "" {
		return gr.Resource
	}
	return gr.Resource + "." + gr.Group
}

// ParsePath is the inverse of Path: it reports whether p is a file of ours under baseFolder,
// and returns its Key with Name the file's stem (Key.FileKey of the object's key).
// Files that do not have exactly the shape {ns|_cluster}/{resource[.group]}/{name}.yaml below
// baseFolder (README.md, kustomization.yaml, deeper or shallower files) are not ours, nor are
// files whose namespace folder cannot be a namespace (.github/workflows/ci.yaml at the root).
func ParsePath(baseFolder, p string) (Key, bool) {
	rel := p
	if base := CleanBase(baseFolder); base != "" {
		prefix := base + "/"
		if !strings.HasPrefix(p, prefix) {
			return Key{}, false
		}
		rel = p[len(prefix):]
	}
	parts := strings.Split(rel, "/")
	if len(parts) != 3 {
		return Key{}, false
	}
	ns, res, file := parts[0], parts[1], parts[2]
	name, ok := strings.CutSuffix(file, ".yaml")
	if !ok || ns == "" || res == "" || name == "" {
		return Key{}, false
	}
	if ns == ClusterScope {
		ns = ""
	} else if len(validation.IsDNS1123Label(ns)) > 0 {
		return Key{}, false
	}
	resource, group, _ := strings.Cut(res, ".")
	return Key{Namespace: ns, Resource: schema.GroupResource{Group: group, Resource: resource}, Name: name}, true
}

// Subject is the path without baseFolder and ".yaml", as commit messages name an object
// (default/configmaps/app).
func Subject(k Key) string {
	return Dir(k.Namespace, k.Resource) + "/" + Stem(k.Name)
}
