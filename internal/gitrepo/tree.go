package gitrepo

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// emptyTree is the hash of the tree with no entries.
var emptyTree = plumbing.ComputeHash(plumbing.TreeObject, nil)

// objectWriter stores the objects of one Apply in a pack, and reads the trees they build on
// from the clone.
type objectWriter struct {
	s    storer.EncodedObjectStorer // the clone
	pack *packBuilder
}

// newObjectWriter writes a pack that spills to a temporary file in tmp once it is large.
func newObjectWriter(s storer.EncodedObjectStorer, tmp string) *objectWriter {
	return &objectWriter{s: s, pack: newPackBuilder(tmp)}
}

// blob stores a file's content, whose hash h the caller computed to compare it with the tree.
func (w *objectWriter) blob(h plumbing.Hash, content []byte) error {
	return w.pack.hashed(h, plumbing.BlobObject, content)
}

// commit stores a commit.
func (w *objectWriter) commit(c *object.Commit) (plumbing.Hash, error) {
	obj := &plumbing.MemoryObject{}
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	rd, err := obj.Reader()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	content, err := io.ReadAll(rd)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return w.pack.object(plumbing.CommitObject, content)
}

// tree stores the new version of dir: a delta against the version this writer stored last,
// when there is one.
func (w *objectWriter) tree(dir *dirNode, raw []byte) (plumbing.Hash, error) {
	var (
		h   plumbing.Hash
		err error
	)
	if dir.raw != nil && w.pack.has(dir.hash) {
		h, err = w.pack.delta(plumbing.TreeObject, raw, dir.hash, dir.raw)
	} else {
		h, err = w.pack.object(plumbing.TreeObject, raw)
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	dir.hash, dir.raw, dir.dirty = h, raw, false
	return h, nil
}

// dirNode is one directory being edited. Only the directories along changed
// paths are ever loaded; everything else is reused by hash. A node lives for all
// the commits of one Apply, so each commit writes only what changed since the last.
type dirNode struct {
	hash    plumbing.Hash       // tree it was loaded from or last written as; zero for a new directory
	entries []object.TreeEntry  // current entries, in Git's order; stale for names in dirs
	dirs    map[string]*dirNode // subdirectories opened for editing
	dirty   bool                // entries differ from hash
	raw     []byte              // the encoding of hash when this Apply wrote it: the next delta's base
}

func newDir() *dirNode { return &dirNode{dirs: map[string]*dirNode{}} }

// find is the index of the entry called name (file or directory).
func (d *dirNode) find(name string) (int, bool) {
	for _, isDir := range []bool{false, true} {
		i, ok := slices.BinarySearchFunc(d.entries, name, func(e object.TreeEntry, n string) int {
			return compareEntries(e.Name, e.Mode == filemode.Dir, n, isDir)
		})
		if ok {
			return i, true
		}
	}
	return 0, false
}

func (d *dirNode) get(name string) (object.TreeEntry, bool) {
	if i, ok := d.find(name); ok {
		return d.entries[i], true
	}
	return object.TreeEntry{}, false
}

// set puts e in place of the entry of the same name.
func (d *dirNode) set(e object.TreeEntry) {
	d.remove(e.Name)
	i, _ := slices.BinarySearchFunc(d.entries, e, gitOrder)
	d.entries = slices.Insert(d.entries, i, e)
	d.dirty = true
}

func (d *dirNode) remove(name string) {
	if i, ok := d.find(name); ok {
		d.entries = slices.Delete(d.entries, i, i+1)
		d.dirty = true
	}
}

// gitOrder compares two tree entries as compareEntries does.
func gitOrder(a, b object.TreeEntry) int {
	return compareEntries(a.Name, a.Mode == filemode.Dir, b.Name, b.Mode == filemode.Dir)
}

// compareEntries orders tree entries the way Git does: by name, with a directory compared as
// if its name ended in "/".
func compareEntries(a string, aDir bool, b string, bDir bool) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	next := func(s string, isDir bool) int {
		switch {
		case len(s) > n:
			return int(s[n])
		case isDir:
			return '/'
		}
		return -1
	}
	return next(a, aDir) - next(b, bDir)
}

// treeEditor applies changes to a tree and writes the changed trees.
type treeEditor struct {
	w    *objectWriter
	root *dirNode
}

func newTreeEditor(w *objectWriter, tree plumbing.Hash) (*treeEditor, error) {
	root, err := loadDir(w.s, tree)
	if err != nil {
		return nil, err
	}
	return &treeEditor{w: w, root: root}, nil
}

func loadDir(s storer.EncodedObjectStorer, h plumbing.Hash) (*dirNode, error) {
	d := newDir()
	d.hash = h
	if h.IsZero() || h == emptyTree {
		return d, nil
	}
	t, err := object.GetTree(s, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	d.entries = slices.Clone(t.Entries)
	// Trees written elsewhere are sorted already; finding entries relies on it.
	slices.SortFunc(d.entries, gitOrder)
	return d, nil
}

// apply edits the tree with every change of a changeset.
func (e *treeEditor) apply(changes []Change) error {
	for _, c := range changes {
		if err := validatePath(c.Path); err != nil {
			return err
		}
		if c.Delete {
			if err := e.remove(c.Path); err != nil {
				return fmt.Errorf("remove %s: %w", c.Path, err)
			}
		} else if err := e.put(c); err != nil {
			return fmt.Errorf("write %s: %w", c.Path, err)
		}
	}
	return nil
}

// put writes c's file; the same content already there is a no-op.
func (e *treeEditor) put(c Change) error {
	parent, name := splitPath(c.Path)
	dir, err := e.walk(parent, true)
	if err != nil {
		return err
	}
	h := c.Blob
	if h.IsZero() {
		h = plumbing.ComputeHash(plumbing.BlobObject, c.Content)
	}
	old, exists := dir.get(name)
	_, isOpenDir := dir.dirs[name]
	mode := filemode.Regular
	if exists && old.Mode == filemode.Executable {
		mode = filemode.Executable
	}
	if exists && !isOpenDir && old.Hash == h && old.Mode == mode {
		return nil
	}
	if c.Blob.IsZero() {
		if err := e.w.blob(h, c.Content); err != nil {
			return err
		}
	}
	delete(dir.dirs, name) // a directory in the way is replaced by the file
	dir.set(object.TreeEntry{Name: name, Mode: mode, Hash: h})
	return nil
}

// remove deletes the file at path; a missing file is a no-op. A directory
// left empty disappears when the trees are written.
func (e *treeEditor) remove(path string) error {
	parent, name := splitPath(path)
	dir, err := e.walk(parent, false)
	if err != nil || dir == nil {
		return err
	}
	old, exists := dir.get(name)
	if _, isOpenDir := dir.dirs[name]; !exists || isOpenDir || old.Mode == filemode.Dir {
		return nil
	}
	dir.remove(name)
	return nil
}

// walk opens the directories along parts. With create, missing directories
// are made (and a file in the way is replaced); without, a missing directory
// gives nil.
func (e *treeEditor) walk(parts []string, create bool) (*dirNode, error) {
	node := e.root
	for _, name := range parts {
		child, ok := node.dirs[name]
		if !ok {
			entry, exists := node.get(name)
			switch {
			case exists && entry.Mode == filemode.Dir:
				var err error
				if child, err = loadDir(e.w.s, entry.Hash); err != nil {
					return nil, err
				}
			case !create:
				return nil, nil
			default:
				child = newDir()
				child.dirty = true
				node.remove(name)
			}
			node.dirs[name] = child
		}
		node = child
	}
	return node, nil
}

// write stores the edited trees and returns the root tree hash.
func (e *treeEditor) write() (plumbing.Hash, error) {
	h, empty, err := e.writeDir(e.root)
	if err != nil || !empty {
		return h, err
	}
	return e.w.pack.object(plumbing.TreeObject, nil)
}

// writeDir stores dir and its edited subdirectories; an empty directory is
// not stored and reports empty, so its parent drops it.
func (e *treeEditor) writeDir(dir *dirNode) (plumbing.Hash, bool, error) {
	for name, child := range dir.dirs {
		h, empty, err := e.writeDir(child)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		old, exists := dir.get(name)
		switch {
		case empty && exists:
			dir.remove(name)
		case empty:
		case !exists || old.Hash != h || old.Mode != filemode.Dir:
			dir.set(object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h})
		}
	}
	if len(dir.entries) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	if !dir.dirty {
		return dir.hash, false, nil
	}
	h, err := e.w.tree(dir, encodeTree(dir.entries))
	return h, false, err
}

// encodeTree is the content of a tree object with entries, which are in Git's order.
func encodeTree(entries []object.TreeEntry) []byte {
	n := 0
	for _, e := range entries {
		n += 8 + len(e.Name) + len(e.Hash)
	}
	b := make([]byte, 0, n)
	for _, e := range entries {
		b = strconv.AppendUint(b, uint64(e.Mode), 8)
		b = append(b, ' ')
		b = append(b, e.Name...)
		b = append(b, 0)
		b = append(b, e.Hash[:]...)
	}
	return b
}

func splitPath(path string) (parent []string, name string) {
	parts := strings.Split(path, "/")
	return parts[:len(parts)-1], parts[len(parts)-1]
}

var errBadPath = errors.New("not a clean relative path")

// validatePath accepts clean, relative, slash-separated paths that Git can
// store: no empty, "." or ".." segments and no ".git" directory.
func validatePath(path string) error {
	if path == "" || strings.ContainsRune(path, 0) {
		return fmt.Errorf("%w: path %q: %w", ErrInvalidCommit, path, errBadPath)
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.EqualFold(seg, ".git") {
			return fmt.Errorf("%w: path %q: %w", ErrInvalidCommit, path, errBadPath)
		}
	}
	return nil
}
