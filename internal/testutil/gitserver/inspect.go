package gitserver

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Commit is one commit as the git CLI reports it.
type Commit struct {
	Hash           string
	Subject        string
	Body           string
	AuthorName     string
	AuthorEmail    string
	CommitterName  string
	CommitterEmail string
	Parents        []string
}

// Head is the commit hash at refs/heads/<branch>, "" when the branch does not
// exist.
func (r *Remote) Head(t testing.TB, branch string) string {
	t.Helper()
	out, err := r.tryGit(r.Dir, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// Branches lists the branch names of the remote, sorted.
func (r *Remote) Branches(t testing.TB) []string {
	t.Helper()
	out := r.git(t, r.Dir, "for-each-ref", "--format=%(refname:short)", "refs/heads/")
	branches := strings.Fields(out)
	sort.Strings(branches)
	return branches
}

// Blobs maps every file path at the branch head to its blob hash; empty when
// the branch does not exist.
func (r *Remote) Blobs(t testing.TB, branch string) map[string]string {
	t.Helper()
	blobs := map[string]string{}
	if r.Head(t, branch) == "" {
		return blobs
	}
	out := r.git(t, r.Dir, "ls-tree", "-r", "-z", "refs/heads/"+branch)
	for _, rec := range strings.Split(out, "\x00") {
		if rec == "" {
			continue
		}
		// <mode> SP <type> SP <hash> TAB <path>
		meta, path, _ := strings.Cut(rec, "\t")
		fields := strings.Fields(meta)
		if len(fields) == 3 && fields[1] == "blob" {
			blobs[path] = fields[2]
		}
	}
	return blobs
}

// Files maps every file path at the branch head to its content; empty when the
// branch does not exist.
func (r *Remote) Files(t testing.TB, branch string) map[string]string {
	t.Helper()
	blobs := r.Blobs(t, branch)
	paths := make([]string, 0, len(blobs))
	var in bytes.Buffer
	for path, hash := range blobs {
		paths = append(paths, path)
		in.WriteString(hash + "\n")
	}
	if len(paths) == 0 {
		return map[string]string{}
	}
	out, err := r.tryGit(r.Dir, in.Bytes(), "cat-file", "--batch")
	if err != nil {
		t.Fatalf("gitserver: %v", err)
	}
	contents, err := parseBatch(out, len(paths))
	if err != nil {
		t.Fatalf("gitserver: cat-file --batch: %v", err)
	}
	// cat-file answers in input order, and the input came from ranging over
	// blobs, so walk paths in the same order.
	files := make(map[string]string, len(paths))
	for i, path := range paths {
		files[path] = contents[i]
	}
	return files
}

// parseBatch reads n objects from `git cat-file --batch` output.
func parseBatch(out string, n int) ([]string, error) {
	br := bufio.NewReader(strings.NewReader(out))
	contents := make([]string, 0, n)
	for range n {
		header, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		fields := strings.Fields(header) // <hash> <type> <size>
		if len(fields) != 3 {
			return nil, io.ErrUnexpectedEOF
		}
		size, err := strconv.Atoi(fields[2])
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+1) // content plus the trailing LF
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		contents = append(contents, string(buf[:size]))
	}
	return contents, nil
}

// Log lists the commits reachable from the branch head, newest first; empty
// when the branch does not exist.
func (r *Remote) Log(t testing.TB, branch string) []Commit {
	t.Helper()
	if r.Head(t, branch) == "" {
		return nil
	}
	const format = "%H%x00%s%x00%b%x00%an%x00%ae%x00%cn%x00%ce%x00%P%x1e"
	out := r.git(t, r.Dir, "log", "--format="+format, "refs/heads/"+branch)
	var commits []Commit
	for _, rec := range strings.Split(out, "\x1e") {
		rec = strings.TrimPrefix(rec, "\n")
		if rec == "" {
			continue
		}
		f := strings.Split(rec, "\x00")
		if len(f) != 8 {
			t.Fatalf("gitserver: unexpected git log record %q", rec)
		}
		commits = append(commits, Commit{
			Hash: f[0], Subject: f[1], Body: strings.TrimRight(f[2], "\n"),
			AuthorName: f[3], AuthorEmail: f[4], CommitterName: f[5], CommitterEmail: f[6],
			Parents: parents(f[7]),
		})
	}
	return commits
}

// parents splits %P output; nil for a root commit.
func parents(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Fields(s)
}

// Count is the number of commits reachable from the branch head, 0 when the
// branch does not exist.
func (r *Remote) Count(t testing.TB, branch string) int {
	t.Helper()
	if r.Head(t, branch) == "" {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(r.git(t, r.Dir, "rev-list", "--count", "refs/heads/"+branch)))
	if err != nil {
		t.Fatalf("gitserver: rev-list --count: %v", err)
	}
	return n
}

// IsAncestor reports whether commit a is an ancestor of (or equal to) commit b.
func (r *Remote) IsAncestor(t testing.TB, a, b string) bool {
	t.Helper()
	_, err := r.tryGit(r.Dir, nil, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// PushFile commits one file on the branch as another writer would (through a
// temporary clone, as HelperName) and pushes it; it returns the new head.
func (r *Remote) PushFile(t testing.TB, branch, path, content, message string) string {
	t.Helper()
	return r.PushFiles(t, branch, map[string]string{path: content}, message)
}

// PushFiles commits the files (path -> content) on the branch, creating it when
// missing, and pushes the commit; it returns the new head. Like a real writer it
// rebases and pushes again when another writer moved the branch meanwhile.
func (r *Remote) PushFiles(t testing.TB, branch string, files map[string]string, message string) string {
	t.Helper()
	work := t.TempDir()
	r.git(t, work, "init", "--quiet", "--initial-branch="+branch)
	if r.Head(t, branch) != "" {
		r.git(t, work, "fetch", "--quiet", r.Dir, "refs/heads/"+branch)
		r.git(t, work, "reset", "--quiet", "--hard", "FETCH_HEAD")
	}
	for path, content := range files {
		full := filepath.Join(work, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatalf("gitserver: %v", err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatalf("gitserver: %v", err)
		}
	}
	r.git(t, work, "add", "--all")
	r.git(t, work, "commit", "--quiet", "--allow-empty", "-m", message)
	for attempt := 0; ; attempt++ {
		_, err := r.tryGit(work, nil, "push", "--quiet", r.Dir, "HEAD:refs/heads/"+branch)
		if err == nil {
			break
		}
		if attempt == 20 {
			t.Fatalf("gitserver: push kept being rejected: %v", err)
		}
		r.git(t, work, "fetch", "--quiet", r.Dir, "refs/heads/"+branch)
		r.git(t, work, "rebase", "--quiet", "FETCH_HEAD")
	}
	return strings.TrimSpace(r.git(t, work, "rev-parse", "HEAD"))
}

// Entries lists the names directly in dir ("" = the root) at the branch head,
// in Git's order; directories end in "/".
func (r *Remote) Entries(t testing.TB, branch, dir string) []string {
	t.Helper()
	treeish := "refs/heads/" + branch + "^{tree}"
	if dir != "" {
		treeish = "refs/heads/" + branch + ":" + dir
	}
	out := r.git(t, r.Dir, "ls-tree", "-z", treeish)
	var names []string
	for _, rec := range strings.Split(out, "\x00") {
		if rec == "" {
			continue
		}
		meta, name, _ := strings.Cut(rec, "\t")
		if strings.Contains(meta, " tree ") {
			name += "/"
		}
		names = append(names, name)
	}
	return names
}

// Fsck runs `git fsck --strict` on the remote and fails the test on any
// complaint (unsorted or malformed trees, missing objects, bad commits).
func (r *Remote) Fsck(t testing.TB) {
	t.Helper()
	out, err := r.tryGit(r.Dir, nil, "fsck", "--strict", "--no-progress", "--no-dangling")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("gitserver: fsck: %v %s", err, out)
	}
}

// VerifyCommit runs `git verify-commit` on a commit of the repository, with extra
// configuration ("gpg.format=ssh", ...) and environment (GNUPGHOME=...), and returns its
// error and output.
func (r *Remote) VerifyCommit(hash string, config, env []string) (string, error) {
	args := []string{}
	for _, c := range config {
		args = append(args, "-c", c)
	}
	cmd := exec.Command("git", append(args, "verify-commit", "-v", hash)...)
	cmd.Dir = r.Dir
	cmd.Env = append(r.Env(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
