package webhook

import (
	"crypto/sha256"
	"encoding/binary"
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
//
// An entry costs the same whatever the request held: the cache keeps a digest of the Key, not
// its strings, and usernames are at most MaxUsernameBytes (longer ones are not recorded), so a
// full cache is a few MiB at most.
type Cache struct {
	lru *expirable.LRU[digest, string]
}

// MaxUsernameBytes bounds a recorded username. Kubernetes sets no limit; real ones (an OIDC
// email, system:serviceaccount:<namespace>:<name>) are far shorter.
const MaxUsernameBytes = 1024

// digest is a Key as the cache stores it: sha256 over its length-prefixed fields, so that
// ("a", "bc") and ("ab", "c") differ.
type digest [sha256.Size]byte

func (k Key) digest() digest {
	h := sha256.New()
	var n [8]byte
	for _, f := range [...]string{k.Group, k.Resource, k.Namespace, k.Name, k.Operation, k.Hash} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	var d digest
	h.Sum(d[:0])
	return d
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
	return &Cache{lru: expirable.NewLRU[digest, string](size, nil, ttl)}
}

// Record remembers that username made the change k. A later Record of the same change wins.
// A username longer than MaxUsernameBytes is not recorded (the handler refuses such requests).
func (c *Cache) Record(k Key, username string) {
	if len(username) > MaxUsernameBytes {
		return
	}
	c.lru.Add(k.digest(), username)
}

// Lookup returns the username that made the change k, if it was recorded and has not expired.
func (c *Cache) Lookup(k Key) (username string, ok bool) {
	return c.lru.Peek(k.digest())
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
