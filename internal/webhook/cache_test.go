package webhook

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

func TestCacheLookupConsumesNothing(t *testing.T) {
	c := NewCache(10, time.Minute)
	k := Key{Resource: "configmaps", Namespace: "default", Name: "app", Op: change.Create, Hash: "h1"}
	c.Record(k, "jane@acme.com")
	for i := range 3 {
		if got, ok := c.Lookup(k); !ok || got != "jane@acme.com" {
			t.Fatalf("lookup %d: %q %v, want jane@acme.com", i, got, ok)
		}
	}
	for name, other := range map[string]Key{
		"other operation": {Resource: "configmaps", Namespace: "default", Name: "app", Op: change.Update, Hash: "h1"},
		"other hash":      {Resource: "configmaps", Namespace: "default", Name: "app", Op: change.Create, Hash: "h2"},
		"other group":     {Group: "apps", Resource: "configmaps", Namespace: "default", Name: "app", Op: change.Create, Hash: "h1"},
		"other namespace": {Resource: "configmaps", Namespace: "shop", Name: "app", Op: change.Create, Hash: "h1"},
	} {
		if got, ok := c.Lookup(other); ok {
			t.Errorf("%s: found %q", name, got)
		}
	}
}

func TestCacheLastRecordWins(t *testing.T) {
	c := NewCache(10, time.Minute)
	k := Key{Resource: "configmaps", Namespace: "default", Name: "app", Op: change.Update, Hash: "h"}
	c.Record(k, "jane@acme.com")
	c.Record(k, "system:serviceaccount:team:bot")
	if got, _ := c.Lookup(k); got != "system:serviceaccount:team:bot" {
		t.Errorf("lookup = %q, want the later user", got)
	}
	if c.Len() != 1 {
		t.Errorf("Len = %d, want 1", c.Len())
	}
}

func TestCacheBounded(t *testing.T) {
	c := NewCache(2, time.Minute)
	keys := []Key{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	for _, k := range keys {
		c.Record(k, "u")
	}
	if c.Len() != 2 {
		t.Errorf("Len = %d, want 2", c.Len())
	}
	if _, ok := c.Lookup(keys[0]); ok {
		t.Error("oldest entry still there past the size limit")
	}
	for _, k := range keys[1:] {
		if _, ok := c.Lookup(k); !ok {
			t.Errorf("entry %s evicted too early", k.Name)
		}
	}
}

func TestCacheExpires(t *testing.T) {
	const ttl = 20 * time.Millisecond
	c := NewCache(10, ttl)
	k := Key{Name: "a"}
	c.Record(k, "u")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := c.Lookup(k); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("entry never expired")
		}
		time.Sleep(ttl)
	}
}

func TestNewCacheDefaults(t *testing.T) {
	// A non-positive size must not mean "unbounded" (golang-lru's meaning of 0).
	c := NewCache(0, 0)
	for i := range DefaultCacheSize + 5 {
		c.Record(Key{Name: string(rune(i))}, "u")
	}
	if c.Len() != DefaultCacheSize {
		t.Errorf("Len = %d, want %d", c.Len(), DefaultCacheSize)
	}
}

func TestObjectHash(t *testing.T) {
	base := configMap("default", "app", "one")
	want := snapshot.Hash(mustRender(t, base))

	statusOnly := base.DeepCopy()
	statusOnly.Object["status"] = map[string]any{"x": "y"}
	statusOnly.SetResourceVersion("42")

	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		same bool
	}{
		{name: "server fields only differ", obj: statusOnly, same: true},
		{name: "data differs", obj: configMap("default", "app", "two")},
		{name: "name differs", obj: configMap("default", "other", "one")},
		{name: "annotation added", obj: withAnnotation(base, "a", "b")},
	}
	if got := mustHash(t, base); got != want {
		t.Fatalf("ObjectHash = %s, want snapshot.Hash(snapshot.Render(obj)) = %s", got, want)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustHash(t, tc.obj); (got == want) != tc.same {
				t.Errorf("hash equal = %v, want %v", got == want, tc.same)
			}
		})
	}
}

func TestObjectHashSecret(t *testing.T) {
	secret := func(v string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "creds", "namespace": "default"},
			"data":     map[string]any{"password": v},
		}}
	}
	a, b := mustHash(t, secret("c2VjcmV0")), mustHash(t, secret("b3RoZXI="))
	if a == b {
		t.Error("Secrets with different data hash the same")
	}
	b2, err := snapshot.Marshal(snapshot.Sanitize(secret("c2VjcmV0")).Object)
	if err != nil {
		t.Fatal(err)
	}
	if a != snapshot.Hash(b2) {
		t.Error("Secret hash is not snapshot.Hash of its sanitized bytes")
	}
}

func TestObjectHashNil(t *testing.T) {
	if _, err := ObjectHash(nil); !errors.Is(err, ErrNoObject) {
		t.Errorf("err = %v, want ErrNoObject", err)
	}
}

func mustRender(t *testing.T, obj *unstructured.Unstructured) []byte {
	t.Helper()
	b, err := snapshot.Render(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func withAnnotation(obj *unstructured.Unstructured, k, v string) *unstructured.Unstructured {
	out := obj.DeepCopy()
	out.SetAnnotations(map[string]string{k: v})
	return out
}

// The cache keeps a digest of the key: keys that differ only in where one field ends and the
// next begins stay apart, and a username over the limit is not kept.
func TestCacheDigestAndUsernameLimit(t *testing.T) {
	c := NewCache(10, time.Minute)
	a := Key{Namespace: "ab", Name: "c", Op: change.Create}
	b := Key{Namespace: "a", Name: "bc", Op: change.Create}
	c.Record(a, "alice")
	if _, ok := c.Lookup(b); ok {
		t.Error("a key with the same characters split differently matched")
	}
	if u, ok := c.Lookup(a); !ok || u != "alice" {
		t.Errorf("Lookup = %q, %v", u, ok)
	}
	long := Key{Name: strings.Repeat("n", 1<<20), Op: change.Create}
	c.Record(long, strings.Repeat("u", MaxUsernameBytes+1))
	if _, ok := c.Lookup(long); ok {
		t.Error("a username over MaxUsernameBytes was recorded")
	}
	c.Record(long, strings.Repeat("u", MaxUsernameBytes))
	if u, ok := c.Lookup(long); !ok || len(u) != MaxUsernameBytes {
		t.Errorf("a username at the limit: %d bytes, %v", len(u), ok)
	}
}
