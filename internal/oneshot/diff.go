package oneshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/pmezard/go-difflib/difflib"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/gitops-reverser/gitops-reverser/internal/cluster"
	"github.com/gitops-reverser/gitops-reverser/internal/destination"
	"github.com/gitops-reverser/gitops-reverser/internal/diff"
	"github.com/gitops-reverser/gitops-reverser/internal/gitrepo"
	"github.com/gitops-reverser/gitops-reverser/internal/resync"
	"github.com/gitops-reverser/gitops-reverser/internal/secrets"
	"github.com/gitops-reverser/gitops-reverser/internal/snapshot"
)

// ErrDifferent is Diff's answer when Git and the cluster differ (exit status 1, as flux diff).
var ErrDifferent = errors.New("git and the cluster differ")

// Diff compares the files of o.Repo at o.Ref with the live objects o selects, rendered as
// snapshot renders them. It prints a unified diff per file that differs to o.Out and a
// summary line to o.Summary, and returns ErrDifferent when anything differs. Secrets are
// compared by plaintext with o.Identities and never printed: only the keys that differ.
func Diff(ctx context.Context, o Options) error {
	o = o.withDefaults()
	c, cat, err := cluster.Connect(ctx, o.Config)
	if err != nil {
		return err
	}
	t, err := standalone(cat, o)
	if err != nil {
		return err
	}
	if len(o.Identities) > 0 {
		// Encrypting to an identity of the caller's own gives each Secret's plaintext, which
		// is all a comparison needs.
		if t.Encrypter, err = secrets.NewEncrypter([]string{o.Identities[0].Recipient().String()}, o.Identities[0]); err != nil {
			return err
		}
	}
	if err := o.repoExists(); err != nil {
		return err
	}
	var note string
	if t.Defaulter, note = defaulter(ctx, o, c); note != "" && t.OutputMode() == snapshot.Clean {
		fmt.Fprintf(o.Summary, "diff: %s\n", note)
	}
	repo, err := gitrepo.Open(ctx, o.repoOptions(t))
	if err != nil {
		return err
	}
	defer repo.Close()
	d := differ{o: o, t: t, sel: selects(t), want: map[string][]byte{}}
	if len(t.Sources) > 0 {
		d.labels = t.Sources[0].Selector
	}
	err = repo.ViewAt(ctx, o.Ref, func(ctx context.Context, head gitrepo.Head) error {
		files, err := resync.Files(head, t.BaseFolder)
		if err != nil {
			return err
		}
		d.head, d.files = head, files
		// Rendered page by page; only the files that differ from Git are kept.
		d.b = resync.Build(ctx, o.Log, resync.APIObjects{Dynamic: c.Dynamic}, t, cat.Unavailable, d.keep)
		for gr, err := range d.b.Failed {
			return fmt.Errorf("list %s: %w", gr, err)
		}
		return d.run()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Summary, "diff: %d changed, %d only in Git, %d only in the cluster, %d unchanged", d.changed, d.onlyGit, d.onlyCluster, d.same)
	if d.secretsSkipped || d.b.Skipped > 0 {
		fmt.Fprint(o.Summary, ", Secrets not compared (no age identity)")
	}
	if d.undecryptable > 0 {
		fmt.Fprintf(o.Summary, ", %d Secrets not compared (no identity given opens them)", d.undecryptable)
	}
	fmt.Fprintln(o.Summary)
	if d.changed+d.onlyGit+d.onlyCluster > 0 {
		return ErrDifferent
	}
	return nil
}

// repoExists refuses a local repository path that does not exist: reading never creates one.
func (o Options) repoExists() error {
	if gitrepo.IsLocalPath(o.Repo) {
		if _, err := os.Stat(o.Repo); err != nil {
			return fmt.Errorf("--repo %s: %w", o.Repo, err)
		}
	}
	return nil
}

// differ compares the desired files with one Git revision.
type differ struct {
	o     Options
	t     *destination.Target
	b     *resync.Built
	head  gitrepo.Head
	files diff.Current // the revision's files under the base folder
	// want holds the cluster's file of every path whose blob differs from Git's, and the
	// plaintext of every Secret: all else is compared by hash.
	want map[string][]byte
	sel  func(snapshot.Key) bool
	// labels is the label selector; nil selects everything.
	labels labels.Selector

	changed, onlyGit, onlyCluster, same int
	undecryptable                       int // Secrets in Git none of the identities opens
	secretsSkipped                      bool
}

// keep is the resync.Keeper of the live side.
func (d *differ) keep(f destination.File) (plumbing.Hash, error) {
	h := diff.BlobHash(f.Content)
	switch {
	case f.Plain != nil:
		d.want[f.Path] = f.Plain
	case d.files[f.Path] != h:
		d.want[f.Path] = f.Content
	}
	return h, nil
}

func (d *differ) run() error {
	paths := map[string]bool{}
	for p := range d.b.Tree {
		paths[p] = true
	}
	for p := range d.files {
		if k, ok := snapshot.ParsePath(d.t.BaseFolder, p); ok && d.sel(k) && !d.b.Keep(k) {
			if isSecret(k) && len(d.o.Identities) == 0 {
				d.secretsSkipped = true
				continue
			}
			paths[p] = true
		}
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	for _, p := range sorted {
		if err := d.file(p); err != nil {
			return err
		}
	}
	return nil
}

// file compares one path and prints what differs.
func (d *differ) file(p string) error {
	h, inCluster := d.b.Tree[p]
	if h == d.files[p] && inCluster && d.want[p] == nil {
		d.same++
		return nil
	}
	want := d.want[p]
	got, found, err := d.head.Read(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if !found {
		got = nil
	}
	if !inCluster && d.labels != nil && !d.labels.Matches(labelsOf(got)) {
		return nil // not selected: its object would not be either
	}
	k, _ := snapshot.ParsePath(d.t.BaseFolder, p)
	if isSecret(k) && got != nil {
		plain, err := secrets.Decrypt(got, d.o.Identities)
		if err != nil {
			// Encrypted to other recipients: say so, and compare the rest.
			d.undecryptable++
			fmt.Fprintf(d.o.Out, "secret %s: not compared (%v)\n", p, err)
			return nil
		}
		got = plain
	}
	switch {
	case got == nil && !inCluster:
		return nil
	case got == nil:
		d.onlyCluster++
	case !inCluster:
		d.onlyGit++
	case sameYAML(got, want, isSecret(k)):
		d.same++
		return nil
	default:
		d.changed++
	}
	if isSecret(k) {
		fmt.Fprintf(d.o.Out, "secret %s: %s\n", p, secretKeys(got, want))
		return nil
	}
	return unified(d.o, p, got, want)
}

// sameYAML compares two renderings; a decrypted Secret is compared as data, since SOPS
// writes YAML in its own style.
func sameYAML(a, b []byte, secret bool) bool {
	if !secret {
		return bytes.Equal(a, b)
	}
	var x, y any
	return yaml.Unmarshal(a, &x) == nil && yaml.Unmarshal(b, &y) == nil && fmt.Sprint(x) == fmt.Sprint(y)
}

// secretKeys says which keys of a Secret differ, never their values.
func secretKeys(git, cluster []byte) string {
	switch {
	case git == nil:
		return "only in the cluster"
	case cluster == nil:
		return "only in Git"
	}
	a, b := secretValues(git), secretValues(cluster)
	var keys []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if len(keys) == 0 {
		return "metadata or type differ"
	}
	return fmt.Sprintf("keys differ: %v", keys)
}

// secretValues is a Secret's data and stringData, by key.
func secretValues(doc []byte) map[string]string {
	var s struct {
		Data       map[string]string `json:"data"`
		StringData map[string]string `json:"stringData"`
	}
	_ = yaml.Unmarshal(doc, &s)
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = v
	}
	for k, v := range s.StringData {
		out[k] = "string:" + v
	}
	return out
}

func isSecret(k snapshot.Key) bool { return k.Resource.Group == "" && k.Resource.Resource == "secrets" }

// unified prints the diff of one file from Git to the cluster.
func unified(o Options, p string, git, cluster []byte) error {
	from, to := "git/"+p, "cluster/"+p
	if git == nil {
		from = "/dev/null"
	}
	if cluster == nil {
		to = "/dev/null"
	}
	text, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: lines(git), B: lines(cluster),
		FromFile: from, ToFile: to, Context: 3,
	})
	if err != nil {
		return fmt.Errorf("diff %s: %w", p, err)
	}
	_, err = fmt.Fprint(o.Out, text)
	return err
}

// lines splits a file into its lines, each with its newline.
func lines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	l := strings.SplitAfter(string(b), "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	}
	return l
}

// selects reports whether a file in Git belongs to what o selects: its resource, its
// namespace, and with a label selector, its labels.
func selects(t *destination.Target) func(snapshot.Key) bool {
	type where struct {
		namespaced bool
		all        bool
		in         map[string]bool
	}
	by := map[string]*where{}
	for _, s := range t.Sources {
		gr := s.Resource.GVR.GroupResource().String()
		w := by[gr]
		if w == nil {
			w = &where{namespaced: s.Resource.Namespaced, in: map[string]bool{}}
			by[gr] = w
		}
		if s.Namespace == "" {
			w.all = true
		}
		w.in[s.Namespace] = true
	}
	return func(k snapshot.Key) bool {
		w := by[k.Resource.String()]
		switch {
		case w == nil:
			return false
		case !w.namespaced:
			return k.Namespace == ""
		default:
			return k.Namespace != "" && (w.all || w.in[k.Namespace])
		}
	}
}

// labelsOf reads the labels of a file's object.
func labelsOf(doc []byte) labels.Set {
	var m struct {
		Metadata struct {
			Labels map[string]string `json:"labels"`
		} `json:"metadata"`
	}
	_ = yaml.Unmarshal(doc, &m)
	return m.Metadata.Labels
}
