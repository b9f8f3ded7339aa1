// Package destination owns the resolved form of a GitDestination: where to write (repository,
// branch, folder, credentials, committer) and what to write (the sources its rules select).
package destination

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gitops-reverser/gitops-reverser/internal/commit"
	"github.com/gitops-reverser/gitops-reverser/internal/defaulting"
	"github.com/gitops-reverser/gitops-reverser/internal/discovery"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// DefaultCommitter is the identity of commits when a destination names none.
var DefaultCommitter = gitrepo.Signature{Name: "gitops-reverser", Email: "gitops-reverser@cluster.local"}

// Target is one destination, resolved: everything needed to build its Tree and write it.
type Target struct {
	// Name is namespace/name of the GitDestination, or the --repo value in standalone mode.
	Name         types.NamespacedName
	Repo         gitrepo.Options
	BaseFolder   string
	Prune        bool
	Committer    gitrepo.Signature
	CommitWindow time.Duration
	// AgeRecipients, when set, allow Secrets to be written SOPS-encrypted.
	AgeRecipients []string
	// Encrypter encrypts Secrets to AgeRecipients; nil when they are not set.
	Encrypter *secrets.Encrypter
	// Output is what files hold of their objects; "" is snapshot.DefaultOutput.
	Output snapshot.Output
	// Defaulter is the API server's defaulting, with which Clean leaves out what it puts
	// back; nil leaves out only what no field manager owns. One per process.
	Defaulter *defaulting.Defaulter
	// Signer signs every commit; nil: unsigned. Made anew on every refresh, like Encrypter.
	Signer gitrepo.Signer
	// Suspend stops commits and pushes; changes wait.
	Suspend bool
	// RequestedAt is the reverser.gitops.dev/requestedAt annotation: a new value asks for a
	// full resync at once.
	RequestedAt string
	Sources     []Source
}

// Source is one resource to take objects from, with the filters of the rule that asked for it.
type Source struct {
	Resource discovery.Resource
	// Namespace limits listing to one namespace; "" lists all namespaces (or a cluster-scoped resource).
	Namespace string
	// InNamespaces, when not nil, further limits namespaced objects to these namespaces (a
	// namespaceSelector, resolved).
	InNamespaces map[string]bool
	// Selector limits objects by label; nil selects everything.
	Selector labels.Selector
	// IncludeSystem keeps the objects the control plane maintains itself (systemObject): the
	// rule opted in and names the resource explicitly.
	IncludeSystem bool
	// ExcludeManagers leaves out objects every non-status field of which these field
	// managers own (a GitOps tool's objects); nil: none.
	ExcludeManagers map[string]bool
	// ExcludeUsers are usernames whose writes make no commit of their own; nil: none.
	ExcludeUsers map[string]bool
}

// Accepts reports whether obj, an object of s.Resource, belongs in the destination.
func (s Source) Accepts(obj snapshot.Object) bool {
	if !s.IncludeSystem && systemObject(s.Resource.GVR.GroupResource(), obj) {
		return false
	}
	ns := obj.GetNamespace()
	if s.Namespace != "" && ns != s.Namespace {
		return false
	}
	if ns != "" && s.InNamespaces != nil && !s.InNamespaces[ns] {
		return false
	}
	if s.Selector != nil && !s.Selector.Matches(snapshot.LabelsOf(obj)) {
		return false
	}
	if !s.Resource.Named && controllerOwned(obj) {
		return false
	}
	return len(s.ExcludeManagers) == 0 || !ownedOnlyBy(obj, s.ExcludeManagers)
}

// ownedOnlyBy reports whether obj records managers and all of them are in set.
func ownedOnlyBy(obj snapshot.Object, set map[string]bool) bool {
	ms := snapshot.Managers(obj)
	for _, m := range ms {
		if !set[m] {
			return false
		}
	}
	return len(ms) > 0
}

// Excludes reports whether a write by user makes no commit of its own.
func (s Source) Excludes(user string) bool {
	return user != "" && s.ExcludeUsers[user]
}

func controllerOwned(obj snapshot.Object) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Controller != nil && *ref.Controller {
			return true
		}
	}
	return false
}

// String names the target in logs and messages.
func (t *Target) String() string {
	if t.Name.Namespace == "" {
		return t.Name.Name
	}
	return fmt.Sprintf("%s/%s", t.Name.Namespace, t.Name.Name)
}

// CloneDir is where the target's clone is kept under cacheDir, its parents created private to
// the process. It is "" (a clone in memory) without a cache dir, for a local repository, and
// when the folder cannot be made (logged to log).
func (t *Target) CloneDir(log *slog.Logger, cacheDir string) string {
	if cacheDir == "" || gitrepo.IsLocalPath(t.Repo.URL) {
		return ""
	}
	dir := filepath.Join(cacheDir, t.Name.Namespace, t.Name.Name)
	if t.Name.Namespace == "" { // standalone: the name is the --repo URL
		dir = filepath.Join(cacheDir, "standalone", url.PathEscape(t.Name.Name))
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		log.Warn("cache dir unusable, cloning into memory", "dir", dir, "err", err)
		return ""
	}
	return dir
}

// Style is how the target's commits are made; emailDomain makes authors' e-mails.
func (t *Target) Style(emailDomain string) commit.Style {
	return commit.Style{Committer: t.Committer, EmailDomain: emailDomain, BaseFolder: t.BaseFolder, Window: t.CommitWindow, Signer: t.Signer}
}
