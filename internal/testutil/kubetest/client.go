package kubetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Client writes and reads objects given as YAML, for test set-up.
type Client struct {
	Config  *rest.Config
	Dynamic dynamic.Interface
	Kube    kubernetes.Interface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
}

// NewClient makes a Client for cfg.
func NewClient(t testing.TB, cfg *rest.Config) *Client {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Client{Config: cfg, Dynamic: dyn, Kube: kube, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

// Decode splits a multi-document YAML into objects.
func Decode(t testing.TB, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewBufferString(docs), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("decode YAML: %v", err)
		}
		if len(u.Object) > 0 {
			out = append(out, &u)
		}
	}
}

// Resource is the dynamic client for obj's kind, namespaced when obj is.
func (c *Client) Resource(t testing.TB, obj *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	ri, err := c.resource(obj)
	if err != nil {
		t.Fatal(err)
	}
	return ri
}

// Namespaced reports whether obj's kind is namespaced.
func (c *Client) Namespaced(t testing.TB, obj *unstructured.Unstructured) bool {
	t.Helper()
	m, err := c.mapping(obj)
	if err != nil {
		t.Fatal(err)
	}
	return m.Scope.Name() == meta.RESTScopeNameNamespace
}

// mapping maps obj's kind, discovering again once when it is not known (a CRD just made).
func (c *Client) mapping(obj *unstructured.Unstructured) (*meta.RESTMapping, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", gvk, err)
	}
	return m, nil
}

func (c *Client) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	m, err := c.mapping(obj)
	if err != nil {
		return nil, err
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return c.Dynamic.Resource(m.Resource), nil
}

// Create creates every object in docs and returns them as stored.
func (c *Client) Create(t testing.TB, docs string) []*unstructured.Unstructured {
	t.Helper()
	out, err := c.TryCreate(t, docs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TryCreate is Create that returns the error, for callers that retry (a CRD just installed
// is served a moment later). Objects created before an error are not created again.
func (c *Client) TryCreate(t testing.TB, docs string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, obj := range Decode(t, docs) {
		ri, err := c.resource(obj)
		if err != nil {
			return out, err
		}
		got, err := ri.Create(context.Background(), obj, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			got, err = ri.Get(context.Background(), obj.GetName(), metav1.GetOptions{})
		}
		if err != nil {
			return out, fmt.Errorf("create %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
		out = append(out, got)
	}
	return out, nil
}

// Update replaces every object in docs (read-modify-write of the whole object, keeping resourceVersion).
func (c *Client) Update(t testing.TB, docs string) {
	t.Helper()
	for _, obj := range Decode(t, docs) {
		ri := c.Resource(t, obj)
		cur, err := ri.Get(context.Background(), obj.GetName(), metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		obj.SetResourceVersion(cur.GetResourceVersion())
		if _, err := ri.Update(context.Background(), obj, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("update %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// Delete deletes every object in docs; missing ones are fine.
func (c *Client) Delete(t testing.TB, docs string) {
	t.Helper()
	for _, obj := range Decode(t, docs) {
		err := c.Resource(t, obj).Delete(context.Background(), obj.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatalf("delete %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// Namespace creates a namespace and deletes it when the test ends.
func (c *Client) Namespace(t testing.TB, name string) {
	t.Helper()
	c.Create(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+name+"\n")
	t.Cleanup(func() {
		_ = c.Kube.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// InstallCRDs installs the CRDs in files (paths relative to the repository root) and waits
// until they are served.
func (c *Client) InstallCRDs(t testing.TB, files ...string) {
	t.Helper()
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = Root() + "/" + f
	}
	if _, err := envtest.InstallCRDs(c.Config, envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true, MaxTime: 30 * time.Second}); err != nil {
		t.Fatalf("install CRDs: %v", err)
	}
	c.mapper.Reset()
}

// GVR is a shorthand for schema.GroupVersionResource.
func GVR(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}
