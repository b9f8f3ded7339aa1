package webhook

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// Defaults for NewCache, matching the controller's --webhook-cache-size and --webhook-cache-ttl.
const (
	DefaultCacheSize = 10000
	DefaultCacheTTL  = 2 * time.Minute
)

// Operations as they appear in admission requests and in Key.Operation.
const (
	OpCreate = "CREATE"
	OpUpdate = "UPDATE"
	OpDelete = "DELETE"
	// OpScale is an UPDATE through the scale subresource; its Key.Hash is the new replicas.
	OpScale = "SCALE"
)

// ErrNoObject is ObjectHash's answer for a nil object.
var ErrNoObject = errors.New("webhook: no object to hash")

// Key identifies one change: the object, the operation and the hash (ObjectHash) of the object
// after the change; for DELETE no hash (the request deletes whatever state the object ends in),
// for OpScale the replicas asked for. The version is left out on purpose: the webhook is
// registered for the version the controller watches, and the sanitized bytes carry apiVersion.
type Key struct {
	Group     string
	Resource  string
	Namespace string
	Name      string
	Operation string
	Hash      string
}

// Recorder stores who made a change; Cache is the implementation, tests and benchmarks may
// pass their own.
type Recorder interface {
	Record(k Key, username string)
}

var _ Recorder = (*Cache)(nil)

// Cache maps changes to the usernames that made them. It is safe for concurrent use. Entries
// leave only by expiry or by eviction of the least recently recorded when full: a Lookup
// consumes nothing, so several destinations may ask for the same change.
type Cache struct {
	lru *expirable.LRU[Key, string]
}

// NewCache makes a cache of at most size entries that each live for ttl. A size or ttl that is
// not positive takes the default, so the cache is never unbounded.
func NewCache(size int, ttl time.Duration) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	if ttl <= 0 {
		ttl = DefaultCacheTTL
	}
	return &Cache{lru: expirable.NewLRU[Key, string](size, nil, ttl)}
}

// Record remembers that username made the change k. A later Record of the same change wins.
func (c *Cache) Record(k Key, username string) {
	c.lru.Add(k, username)
}

// Lookup returns the username that made the change k, if it was recorded and has not expired.
func (c *Cache) Lookup(k Key) (username string, ok bool) {
	return c.lru.Peek(k)
}

// Len is the number of entries, expired ones not yet swept included.
func (c *Cache) Len() int {
	return c.lru.Len()
}

// ObjectHash is the hash both sides of the author match use: snapshot.Hash of the sanitized
// object's bytes. Secrets are hashed from the same bytes, which never leave memory.
func ObjectHash(obj *unstructured.Unstructured) (string, error) {
	if obj == nil {
		return "", ErrNoObject
	}
	b, err := snapshot.Plain(obj)
	if err != nil {
		return "", fmt.Errorf("hash: %w", err)
	}
	return snapshot.Hash(b), nil
}
