package gitrepo

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Signature is a commit identity.
type Signature struct{ Name, Email string }

// Change is one file a commit writes or removes.
type Change struct {
	Path string
	// Content is the file's new bytes; ignored when Delete or Blob is set.
	Content []byte
	// Blob, when set, is the file's blob, stored already (Head.Blob) or in the repository:
	// a large changeset then holds hashes, not contents.
	Blob   plumbing.Hash
	Delete bool
}

// Files maps repository paths to Git blob hashes.
type Files map[string]plumbing.Hash

// Commit is one commit a BuildFunc asks for.
type Commit struct {
	Changes []Change
	// Author defaults to Committer when its Name is empty.
	Author, Committer Signature
	// Message is the subject, a blank line and the body (the caller formats
	// it); a final newline is added when missing.
	Message string
	// When is the author and committer time; zero means now.
	When time.Time
	// Signer, when set, signs the commit.
	Signer Signer
}

// Signer signs commits: given a commit as Git encodes it without a signature, it returns the
// armored signature Git keeps in the commit's gpgsig header (OpenPGP or SSH).
type Signer interface {
	Sign(payload []byte) (string, error)
}

func (c Commit) validate() error {
	if c.Committer.Name == "" || c.Committer.Email == "" {
		return fmt.Errorf("%w: committer name and email are required", ErrInvalidCommit)
	}
	if strings.TrimSpace(c.Message) == "" {
		return fmt.Errorf("%w: empty message", ErrInvalidCommit)
	}
	return nil
}

// chain is the result of writing a series of commits.
type chain struct {
	tip     plumbing.Hash // newest commit, the parent when nothing was written
	tree    plumbing.Hash // tree of tip
	commits int           // commits written
}

// writeCommits makes the commits on top of parent (zero: a root commit), each
// on the tree of the one before. A commit whose tree equals its parent's is
// skipped, except a root commit that asks for no changes at all: that one
// creates a missing branch before there is anything to put on it.
func writeCommits(w *objectWriter, parent, parentTree plumbing.Hash, commits []Commit, now time.Time) (chain, error) {
	c := chain{tip: parent, tree: parentTree}
	if c.tree.IsZero() {
		c.tree = emptyTree
	}
	// One editor for the whole series: each commit rewrites only the trees it changes, as
	// deltas against their previous versions.
	ed, err := newTreeEditor(w, c.tree)
	if err != nil {
		return chain{}, err
	}
	for i, commit := range commits {
		if err := commit.validate(); err != nil {
			return chain{}, fmt.Errorf("commit %d: %w", i+1, err)
		}
		if err := ed.apply(commit.Changes); err != nil {
			return chain{}, fmt.Errorf("commit %d: %w", i+1, err)
		}
		tree, err := ed.write()
		if err != nil {
			return chain{}, fmt.Errorf("commit %d: write trees: %w", i+1, err)
		}
		if tree == c.tree && (!c.tip.IsZero() || len(commit.Changes) > 0) {
			continue
		}
		obj := newCommitObject(commit, tree, c.tip, now)
		if commit.Signer != nil {
			if err := sign(obj, commit.Signer); err != nil {
				return chain{}, fmt.Errorf("commit %d: %w", i+1, err)
			}
		}
		h, err := w.commit(obj)
		if err != nil {
			return chain{}, fmt.Errorf("commit %d: %w", i+1, err)
		}
		c = chain{tip: h, tree: tree, commits: c.commits + 1}
	}
	return c, nil
}

// sign sets obj's signature: of the commit as encoded without one, as `git verify-commit`
// checks it.
func sign(obj *object.Commit, s Signer) error {
	payload := &plumbing.MemoryObject{}
	if err := obj.EncodeWithoutSignature(payload); err != nil {
		return fmt.Errorf("encode commit to sign: %w", err)
	}
	r, err := payload.Reader()
	if err != nil {
		return fmt.Errorf("encode commit to sign: %w", err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("encode commit to sign: %w", err)
	}
	sig, err := s.Sign(b)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSigning, err)
	}
	obj.PGPSignature = sig
	return nil
}

func newCommitObject(c Commit, tree, parent plumbing.Hash, now time.Time) *object.Commit {
	when := c.When
	if when.IsZero() {
		when = now
	}
	author := c.Author
	if author.Name == "" {
		author = c.Committer
	}
	msg := c.Message
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	obj := &object.Commit{
		Author:    object.Signature{Name: author.Name, Email: author.Email, When: when},
		Committer: object.Signature{Name: c.Committer.Name, Email: c.Committer.Email, When: when},
		Message:   msg,
		TreeHash:  tree,
	}
	if !parent.IsZero() {
		obj.ParentHashes = []plumbing.Hash{parent}
	}
	return obj
}
