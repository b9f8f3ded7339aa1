package commit

import (
	"bytes"
	"sort"
	"time"
)

// Event is one object change, rendered for a destination, waiting to be committed.
type Event struct {
	Path string
	// Content is the file's new bytes; nil deletes the file.
	Content []byte
	// Plain is the plaintext of an encrypted file, to tell a re-encryption from a change.
	Plain []byte
	// Author is the Kubernetes username that made the change; "" when unknown.
	Author string
}

// SameFile reports whether two events leave the file the same: both deletions, or the same
// content (the same plaintext for encrypted files, which SOPS encrypts anew every time).
func SameFile(a, b Event) bool {
	switch {
	case a.Content == nil || b.Content == nil:
		return a.Content == nil && b.Content == nil
	case a.Plain != nil && b.Plain != nil:
		return bytes.Equal(a.Plain, b.Plain)
	default:
		return bytes.Equal(a.Content, b.Content)
	}
}

// Batch is one author's pending changes within one commit window: one commit (one per change
// with a window of 0).
type Batch struct {
	author       string
	changes      map[string]Event
	order        []string // paths in the order they first changed
	opened, last time.Time
}

// Pending groups changes by author and commit window: it holds every batch, at most one per
// author, and which batch holds each path. It is not safe for concurrent use.
type Pending struct {
	batches map[string]*Batch
	owner   map[string]string // path -> author of the batch that holds it
}

// NewPending makes an empty Pending.
func NewPending() *Pending {
	return &Pending{batches: map[string]*Batch{}, owner: map[string]string{}}
}

// Add records ev. A path changed again by another author moves to that author's batch: the
// last writer authored the final state, and no older content may be committed after it.
func (p *Pending) Add(ev Event, now time.Time) {
	if prev, ok := p.owner[ev.Path]; ok && prev != ev.Author {
		p.drop(prev, ev.Path)
	}
	b := p.batches[ev.Author]
	if b == nil {
		b = &Batch{author: ev.Author, changes: map[string]Event{}, opened: now}
		p.batches[ev.Author] = b
	}
	if _, ok := b.changes[ev.Path]; !ok {
		b.order = append(b.order, ev.Path)
	}
	b.changes[ev.Path] = ev
	b.last = now
	p.owner[ev.Path] = ev.Author
}

func (p *Pending) drop(author, path string) {
	b := p.batches[author]
	delete(b.changes, path)
	for i, q := range b.order {
		if q == path {
			b.order = append(b.order[:i], b.order[i+1:]...)
			break
		}
	}
	if len(b.changes) == 0 {
		delete(p.batches, author)
	}
	delete(p.owner, path)
}

// Has reports whether path has a pending change.
func (p *Pending) Has(path string) bool {
	_, ok := p.owner[path]
	return ok
}

// Get returns the pending change of path.
func (p *Pending) Get(path string) (Event, bool) {
	author, ok := p.owner[path]
	if !ok {
		return Event{}, false
	}
	return p.batches[author].changes[path], true
}

func (p *Pending) Len() int { return len(p.owner) }

// due is when b's window closes: once its author has been quiet for window, and at the latest
// ten windows after it opened.
func (b *Batch) due(window time.Duration) time.Time {
	quiet := b.last.Add(window)
	if limit := b.opened.Add(10 * window); limit.Before(quiet) {
		return limit
	}
	return quiet
}

// Take removes and returns the batches due at now (all of them when all is set), oldest first.
func (p *Pending) Take(now time.Time, window time.Duration, all bool) []*Batch {
	var out []*Batch
	for author, b := range p.batches {
		if all || !b.due(window).After(now) {
			out = append(out, b)
			delete(p.batches, author)
			for path := range b.changes {
				delete(p.owner, path)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].opened.Before(out[j].opened) })
	return out
}

// Restore puts back batches whose commit failed. Changes made since win over restored ones.
func (p *Pending) Restore(bs []*Batch) {
	for _, b := range bs {
		for _, path := range b.order {
			if p.Has(path) {
				continue
			}
			ev := b.changes[path]
			cur := p.batches[b.author]
			if cur == nil {
				cur = &Batch{author: b.author, changes: map[string]Event{}, opened: b.opened, last: b.last}
				p.batches[b.author] = cur
			}
			if b.opened.Before(cur.opened) {
				cur.opened = b.opened
			}
			cur.order = append(cur.order, path)
			cur.changes[path] = ev
			p.owner[path] = b.author
		}
	}
}

// Next is the earliest time a batch is due; zero when nothing is pending.
func (p *Pending) Next(window time.Duration) time.Time {
	var t time.Time
	for _, b := range p.batches {
		if d := b.due(window); t.IsZero() || d.Before(t) {
			t = d
		}
	}
	return t
}
