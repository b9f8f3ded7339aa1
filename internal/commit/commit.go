// Package commit composes a destination's commits: which changes go together (one author,
// one commit window, at most ten windows), their subjects and bodies, the author and e-mail,
// the Kubernetes-User trailer, and the reconcile commit of a resync or snapshot. What a
// commit looks like is decided here and nowhere else; gitrepo only writes what it is given.
package commit

import (
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/change"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
)

// Style is how one destination's commits are made.
type Style struct {
	Committer gitrepo.Signature
	// EmailDomain makes an author e-mail from a username that is not an e-mail address.
	EmailDomain string
	// BaseFolder is left out of the paths in subjects and bodies.
	BaseFolder string
	// Window is the commit window; 0 makes one commit per change.
	Window time.Duration
	// Signer, when set, signs every commit (NewSigner).
	Signer gitrepo.Signer
}

// Batches turns due batches into commits: one per batch, or one per change with a window of
// 0, authored by the batch's author. changeOf compares an event with the branch head and
// reports false for one that leaves its file as it is; such events are left out. It also
// returns each commit's changeset.
func (s Style) Batches(batches []*Batch, changeOf func(Event) (diff.Change, bool)) ([]gitrepo.Commit, []diff.Changeset) {
	var (
		commits []gitrepo.Commit
		sets    []diff.Changeset
	)
	for _, b := range batches {
		var cs diff.Changeset
		for _, path := range b.order {
			if ch, ok := changeOf(b.changes[path]); ok {
				cs = append(cs, ch)
			}
		}
		groups := []diff.Changeset{cs}
		if s.Window == 0 {
			groups = groups[:0]
			for _, ch := range cs {
				groups = append(groups, diff.Changeset{ch})
			}
		}
		for _, g := range groups {
			if len(g) == 0 {
				continue
			}
			commits = append(commits, gitrepo.Commit{
				Changes:   Files(g),
				Author:    s.author(b.author),
				Committer: s.Committer,
				Message:   withTrailer(ChangeMessage(g, s.BaseFolder), b.author),
				Signer:    s.Signer,
			})
			sets = append(sets, g)
		}
	}
	return commits, sets
}

// Reconcile is the commit of a resync or snapshot, by the committer: a resync knows no author.
func (s Style) Reconcile(cs diff.Changeset) gitrepo.Commit {
	return gitrepo.Commit{
		Changes:   Files(cs),
		Author:    s.Committer,
		Committer: s.Committer,
		Message:   ReconcileMessage(cs, s.BaseFolder),
		Signer:    s.Signer,
	}
}

// Files is what a changeset writes to the tree.
func Files(cs diff.Changeset) []gitrepo.Change {
	out := make([]gitrepo.Change, len(cs))
	for i, ch := range cs {
		out[i] = gitrepo.Change{Path: ch.Path, Content: ch.Content, Delete: ch.Op == change.Delete}
		if ch.Content == nil {
			out[i].Blob = ch.Hash // stored already by the resync that computed it
		}
	}
	return out
}

// withTrailer adds the Kubernetes-User trailer when the author is known.
func withTrailer(m, author string) string {
	if author == "" {
		return m
	}
	return m + "\n\nKubernetes-User: " + author
}

// author is the commit author for a username: the committer when unknown.
func (s Style) author(username string) gitrepo.Signature {
	if username == "" {
		return s.Committer
	}
	return gitrepo.Signature{Name: username, Email: Email(username, s.EmailDomain)}
}

var unsafeEmailChars = regexp.MustCompile(`[^a-z0-9._-]`)

// Email is the author e-mail of a Kubernetes username: the username itself when it is an
// e-mail address, else the username lowercased and made safe, at domain
// (system:serviceaccount:team:bot -> system-serviceaccount-team-bot@cluster.local).
func Email(username, domain string) string {
	if a, err := mail.ParseAddress(username); err == nil && a.Address == username {
		return username
	}
	if domain == "" {
		domain = "cluster.local"
	}
	return unsafeEmailChars.ReplaceAllString(strings.ToLower(username), "-") + "@" + domain
}

// Each calls fn with every change of the batch, in the order the paths first changed.
func (b *Batch) Each(fn func(Event)) {
	for _, path := range b.order {
		fn(b.changes[path])
	}
}
