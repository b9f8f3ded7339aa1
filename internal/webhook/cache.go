package webhook

import (
	"crypto/sha256"
	"encoding/binary"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Defaults for NewCache, matching the controller's --webhook-cache-size and --webhook-cache-ttl.
const (
	DefaultCacheSize = 10000
	DefaultCacheTTL  = 2 * time.Minute
)

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
//
// Entries expire when looked up, not on a timer: golang-lru's expirable LRU sweeps from a
// goroutine that can never be stopped, and a Cache must leave nothing running when the
// controller stops. Expired entries still count towards size until evicted.
type Cache struct {
	lru *lru.Cache[digest, entry]
	ttl time.Duration
}

type entry struct {
	username string
	expires  time.Time
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
	scale := ""
	if k.Scale {
		scale = "scale"
	}
	for _, f := range [...]string{k.Group, k.Resource, k.Namespace, k.Name, k.Op.String(), scale, k.Hash} {
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
	c, err := lru.New[digest, entry](size)
	if err != nil { // only for a size that is not positive
		panic(err)
	}
	return &Cache{lru: c, ttl: ttl}
}

// Record remembers that username made the change k. A later Record of the same change wins.
// A username longer than MaxUsernameBytes is not recorded (the handler refuses such requests).
func (c *Cache) Record(k Key, username string) {
	if len(username) > MaxUsernameBytes {
		return
	}
	c.lru.Add(k.digest(), entry{username: username, expires: time.Now().Add(c.ttl)})
}

// Lookup returns the username that made the change k, if it was recorded and has not expired.
func (c *Cache) Lookup(k Key) (username string, ok bool) {
	e, ok := c.lru.Peek(k.digest())
	if !ok || time.Now().After(e.expires) {
		return "", false
	}
	return e.username, true
}

// Len is the number of entries, expired ones not yet swept included.
func (c *Cache) Len() int {
	return c.lru.Len()
}
