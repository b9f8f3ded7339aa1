// Package gitrepo owns the local clone of a destination's remote and turns
// changesets into commits and pushes.
//
// Commits are built straight from object storage, without a worktree: only the
// trees along the changed paths are rewritten and every other subtree is
// reused by hash, so the cost of a commit follows the number of changed paths,
// not the size of the repository. The commits of one Apply are written into one
// pack as they are made, each new version of a directory a delta against its
// previous one, so a burst of thousands of commits costs in proportion to the
// directories they touch, not to the history. Pushes send exactly that pack and
// never force: when the branch moved (another writer), the Repo fetches, asks
// the caller to rebuild its commits on the new head and tries again, a bounded
// number of times. Foreign commits stay in history.
//
// A URL with a scheme (https, http, ssh, git, file) or in scp-like form
// (git@host:path) is a remote: it is fetched into a bare clone (a temporary directory, or
// in Options.Dir) and pushed to. Anything else is a local path: the commits are
// written straight into that repository (created, non-bare, when missing), and
// when the branch is checked out there its index and working tree follow.
//
// A branch missing on the remote is created by the first Apply as a root
// commit (an orphan branch), also when the remote has other branches.
//
// Errors never carry credentials; callers branch on ErrAuthentication,
// ErrUnreachable, ErrCertificate, ErrRepositoryNotFound, ErrRejected,
// ErrConflict, ErrInvalidOptions, ErrInvalidCommit and ErrNothingToCommit with
// errors.Is.
package gitrepo
