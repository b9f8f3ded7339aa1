package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

const remoteName = "origin"

// Repo writes commits to one branch of one repository. Its methods are safe
// for concurrent use; Apply calls run one at a time.
type Repo struct {
	mu sync.Mutex // serializes Apply and Close

	opts    Options
	repo    *git.Repository
	branch  plumbing.ReferenceName // refs/heads/<branch>
	secrets []string               // strings to keep out of errors

	// Remote mode.
	url      string // without a password
	endpoint *transport.Endpoint
	auth     transport.AuthMethod
	tracking plumbing.ReferenceName // refs/remotes/origin/<branch>
	fresh    bool                   // fetched by Open; the first Apply skips its fetch

	// temp is the clone's temporary directory when Options.Dir is empty; Close removes it.
	temp string

	// Local mode.
	local    bool
	worktree string // root of the working tree; "" for a bare repository
}

// Open prepares a Repo: for a remote URL it clones (or reopens the clone in
// Dir and fetches); for a local path it opens the repository, creating a
// non-bare one when the path does not exist. An empty remote is fine.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	r := &Repo{
		opts:    opts,
		branch:  plumbing.NewBranchReferenceName(opts.Branch),
		secrets: opts.Auth.secrets(),
	}
	open := r.openRemote
	if IsLocalPath(opts.URL) {
		open = func(context.Context) error { return r.openLocal() }
	}
	if err := open(ctx); err != nil {
		_ = r.Close() // the open error is the one worth reporting
		return nil, err
	}
	return r, nil
}

func (r *Repo) openRemote(ctx context.Context) error {
	clean, user, pass, err := splitCredentials(r.opts.URL)
	if err != nil {
		return err
	}
	if pass != "" {
		r.secrets = append(r.secrets, pass)
		if r.opts.Auth.Password == "" && r.opts.Auth.BearerToken == "" {
			r.opts.Auth.Username, r.opts.Auth.Password = user, pass
		}
	}
	r.url = clean
	if r.endpoint, err = transport.NewEndpoint(clean); err != nil {
		return fmt.Errorf("%w: URL: %w", ErrInvalidOptions, r.redact(err))
	}
	r.endpoint.CaBundle = r.opts.Auth.CABundle
	if r.auth, err = authMethod(r.endpoint, r.opts.Auth, r.opts.Timeout); err != nil {
		return r.redact(err)
	}
	r.tracking = plumbing.NewRemoteReferenceName(remoteName, r.opts.Branch)
	if r.repo, err = r.openClone(); err != nil {
		return r.redact(err)
	}
	if err := r.fetch(ctx); err != nil {
		return err
	}
	r.fresh = true
	return nil
}

// openClone returns the bare clone to work in: the usable clone already in Dir, or a new one
// in Dir or in a temporary directory.
func (r *Repo) openClone() (*git.Repository, error) {
	if r.opts.Dir == "" {
		dir, err := os.MkdirTemp("", "gitops-reverser-clone-")
		if err != nil {
			return nil, fmt.Errorf("temporary clone: %w", err)
		}
		r.temp, r.opts.Dir = dir, dir
	}
	if repo, err := r.reopenClone(); err == nil {
		return repo, nil
	}
	if err := emptyDir(r.opts.Dir); err != nil {
		return nil, err
	}
	repo, err := initBare(r.opts.Dir, r.branch)
	if err != nil {
		return nil, fmt.Errorf("init clone in %s: %w", r.opts.Dir, err)
	}
	return repo, r.configureRemote(repo)
}

// reopenClone opens the clone in Dir if it is a usable clone of the same URL.
func (r *Repo) reopenClone() (*git.Repository, error) {
	if _, err := os.Stat(filepath.Join(r.opts.Dir, "objects")); err != nil {
		return nil, err
	}
	repo, err := openBare(r.opts.Dir)
	if err != nil {
		return nil, err
	}
	remote, err := repo.Remote(remoteName)
	if err != nil {
		return nil, err
	}
	if urls := remote.Config().URLs; len(urls) != 1 || urls[0] != r.url {
		return nil, errors.New("clone of another URL")
	}
	head, err := repo.Storer.Reference(plumbing.HEAD)
	if err != nil || head.Type() != plumbing.SymbolicReference {
		return nil, errors.New("HEAD is not a symbolic reference")
	}
	if _, err := r.trackedHead(repo); err != nil {
		return nil, err
	}
	return repo, nil
}

// trackedHead is the remote branch head as last fetched, with its commit and
// tree readable; zero when the branch is not known.
func (r *Repo) trackedHead(repo *git.Repository) (*headView, error) {
	ref, err := repo.Storer.Reference(r.tracking)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return newHeadView(repo.Storer, plumbing.ZeroHash)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", r.tracking, err)
	}
	return newHeadView(repo.Storer, ref.Hash())
}

func (r *Repo) configureRemote(repo *git.Repository) error {
	_, err := repo.CreateRemote(&config.RemoteConfig{
		Name:  remoteName,
		URLs:  []string{r.url},
		Fetch: []config.RefSpec{r.fetchSpec()},
	})
	if err != nil {
		return fmt.Errorf("configure remote: %w", err)
	}
	return nil
}

// emptyDir removes what is in dir so a clone can be made there. It refuses a
// directory that holds something other than a Git repository.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clone directory: %w", err)
	}
	if len(entries) > 0 && !looksLikeGitDir(entries) {
		return fmt.Errorf("%w: clone directory %s is not empty and holds no Git repository; refusing to delete it",
			ErrInvalidOptions, dir)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("clear clone directory: %w", err)
		}
	}
	return nil
}

func looksLikeGitDir(entries []os.DirEntry) bool {
	for _, e := range entries {
		switch e.Name() {
		case "HEAD", "config", "objects", "refs":
			return true
		}
	}
	return false
}

// openLocal opens the repository at a local path, creating a non-bare one
// when the path does not exist (or is an empty directory).
func (r *Repo) openLocal() error {
	path, err := filepath.Abs(r.opts.URL)
	if err != nil {
		return fmt.Errorf("%w: path: %w", ErrInvalidOptions, err)
	}
	r.local = true
	r.repo, err = git.PlainOpen(path)
	if errors.Is(err, git.ErrRepositoryNotExists) && isMissingOrEmpty(path) {
		r.repo, err = git.PlainInitWithOptions(path, &git.PlainInitOptions{
			InitOptions: git.InitOptions{DefaultBranch: r.branch},
		})
	}
	if errors.Is(err, git.ErrRepositoryNotExists) {
		return fmt.Errorf("%w: %s exists and is not a Git repository", ErrInvalidOptions, path)
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if _, err := r.repo.Worktree(); err == nil {
		r.worktree = path
	}
	return nil
}

func isMissingOrEmpty(path string) bool {
	entries, err := os.ReadDir(path)
	return errors.Is(err, os.ErrNotExist) || (err == nil && len(entries) == 0)
}

// Close releases the clone's files. The Repo is not usable afterwards.
func (r *Repo) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	if r.repo != nil {
		if c, ok := r.repo.Storer.(io.Closer); ok {
			err = c.Close()
		}
		r.repo = nil
	}
	if r.temp != "" {
		err = errors.Join(err, os.RemoveAll(r.temp))
		r.temp = ""
	}
	return err
}

// redact hides credentials in err.
func (r *Repo) redact(err error) error {
	return redact(err, r.secrets)
}
