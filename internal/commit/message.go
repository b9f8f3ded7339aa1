package commit

import (
	"fmt"
	"strings"

	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// Messages follow the README's "Commits" table. They carry no trailing newline and no
// trailer: Style.Batches adds the Kubernetes-User trailer (withTrailer).

// ReconcileMessage is the message of a resync or snapshot commit:
//
//	reconcile: 2 added, 1 updated, 5 deleted
//
//	[CREATE] default/configmaps/app
//	...
//
// An empty changeset has the subject only.
func ReconcileMessage(cs diff.Changeset, baseFolder string) string {
	added, updated, deleted := cs.Counts()
	subject := fmt.Sprintf("reconcile: %d added, %d updated, %d deleted", added, updated, deleted)
	return withBody(subject, cs, baseFolder)
}

// ChangeMessage is the message of a commit of one author's changes: "[CREATE] default/configmaps/app"
// for one change; "[UPDATE] 3 objects" (or "[CHANGE] 3 objects" when the operations differ) and one
// line per change in the body for several. An empty changeset gives "".
func ChangeMessage(cs diff.Changeset, baseFolder string) string {
	switch len(cs) {
	case 0:
		return ""
	case 1:
		return ChangeLine(cs[0], baseFolder)
	}
	verb := cs[0].Op.String()
	for _, ch := range cs[1:] {
		if ch.Op != cs[0].Op {
			verb = "CHANGE"
			break
		}
	}
	return withBody(fmt.Sprintf("[%s] %d objects", verb, len(cs)), cs, baseFolder)
}

// ChangeLine is one change in the one-change subject form: "[DELETE] _cluster/namespaces/shop".
func ChangeLine(ch diff.Change, baseFolder string) string {
	return "[" + ch.Op.String() + "] " + subject(ch.Path, baseFolder)
}

func withBody(subject string, cs diff.Changeset, baseFolder string) string {
	if len(cs) == 0 {
		return subject
	}
	var b strings.Builder
	b.WriteString(subject)
	b.WriteString("\n")
	for _, ch := range cs {
		b.WriteString("\n")
		b.WriteString(ChangeLine(ch, baseFolder))
	}
	return b.String()
}

// subject names a file as commit messages name an object: the path without baseFolder and
// ".yaml". Files that are not ours (should not happen) keep whatever path they have below
// baseFolder, or their full path when outside it.
func subject(p, baseFolder string) string {
	if k, ok := snapshot.ParsePath(baseFolder, p); ok {
		return snapshot.Subject(k)
	}
	if baseFolder != "" {
		p = strings.TrimPrefix(p, strings.TrimSuffix(baseFolder, "/")+"/")
	}
	return strings.TrimSuffix(p, ".yaml")
}
