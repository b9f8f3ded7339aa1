package gitrepo

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/gitops-reverser/gitops-reverser/internal/diff"
)

// emptyTree is the hash of the tree with no entries.
var emptyTree = plumbing.ComputeHash(plumbing.TreeObject, nil)

// objectWriter stores new objects and remembers which ones it stored, so a
// push can send exactly those.
type objectWriter struct {
	s       storer.EncodedObjectStorer
	created map[plumbing.Hash]struct{}
}

func newObjectWriter(s storer.EncodedObjectStorer) *objectWriter {
	return &objectWriter{s: s, created: map[plumbing.Hash]struct{}{}}
}

func (w *objectWriter) blob(content []byte) (plumbing.Hash, error) {
	obj := w.s.NewEncodedObject()
	obj.SetType(plumbing.BlobObject)
	obj.SetSize(int64(len(content)))
	wr, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := wr.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := wr.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return w.store(obj)
}

// encode stores a tree or commit.
func (w *objectWriter) encode(o interface {
	Encode(plumbing.EncodedObject) error
}) (plumbing.Hash, error) {
	obj := w.s.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return w.store(obj)
}

func (w *objectWriter) store(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h, err := w.s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store %s: %w", obj.Type(), err)
	}
	w.created[h] = struct{}{}
	return h, nil
}

// objects lists what the writer stored.
func (w *objectWriter) objects() []plumbing.Hash {
	hs := make([]plumbing.Hash, 0, len(w.created))
	for h := range w.created {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { return hs[i].String() < hs[j].String() })
	return hs
}

// dirNode is one directory being edited. Only the directories along changed
// paths are ever loaded; everything else is reused by hash.
type dirNode struct {
	hash    plumbing.Hash               // tree it was loaded from; zero for a new directory
	entries map[string]object.TreeEntry // current entries; stale for names in dirs
	dirs    map[string]*dirNode         // subdirectories opened for editing
	dirty   bool                        // entries differ from hash
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
	d := &dirNode{hash: h, entries: map[string]object.TreeEntry{}, dirs: map[string]*dirNode{}}
	if h.IsZero() || h == emptyTree {
		return d, nil
	}
	t, err := object.GetTree(s, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	for _, e := range t.Entries {
		d.entries[e.Name] = e
	}
	return d, nil
}

// apply edits the tree with every change of a changeset.
func (e *treeEditor) apply(changes diff.Changeset) error {
	for _, c := range changes {
		if err := validatePath(c.Path); err != nil {
			return err
		}
		var err error
		if c.Op == diff.Delete {
			err = e.remove(c.Path)
		} else {
			err = e.put(c.Path, c.Content)
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.Op, c.Path, err)
		}
	}
	return nil
}

// put writes content at path; the same content already there is a no-op.
func (e *treeEditor) put(path string, content []byte) error {
	parent, name := splitPath(path)
	dir, err := e.walk(parent, true)
	if err != nil {
		return err
	}
	h := plumbing.ComputeHash(plumbing.BlobObject, content)
	old, exists := dir.entries[name]
	_, isOpenDir := dir.dirs[name]
	mode := filemode.Regular
	if exists && old.Mode == filemode.Executable {
		mode = filemode.Executable
	}
	if exists && !isOpenDir && old.Hash == h && old.Mode == mode {
		return nil
	}
	if _, err := e.w.blob(content); err != nil {
		return err
	}
	delete(dir.dirs, name) // a directory in the way is replaced by the file
	dir.entries[name] = object.TreeEntry{Name: name, Mode: mode, Hash: h}
	dir.dirty = true
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
	old, exists := dir.entries[name]
	if _, isOpenDir := dir.dirs[name]; !exists || isOpenDir || old.Mode == filemode.Dir {
		return nil
	}
	delete(dir.entries, name)
	dir.dirty = true
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
			entry, exists := node.entries[name]
			switch {
			case exists && entry.Mode == filemode.Dir:
				var err error
				if child, err = loadDir(e.w.s, entry.Hash); err != nil {
					return nil, err
				}
			case !create:
				return nil, nil
			default:
				child = &dirNode{entries: map[string]object.TreeEntry{}, dirs: map[string]*dirNode{}, dirty: true}
				delete(node.entries, name)
				node.dirty = true
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
	return e.w.encode(&object.Tree{})
}

// writeDir stores dir and its edited subdirectories; an empty directory is
// not stored and reports empty, so its parent drops it.
func (e *treeEditor) writeDir(dir *dirNode) (plumbing.Hash, bool, error) {
	for name, child := range dir.dirs {
		h, empty, err := e.writeDir(child)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		old, exists := dir.entries[name]
		switch {
		case empty && exists:
			delete(dir.entries, name)
			dir.dirty = true
		case empty:
		case !exists || old.Hash != h || old.Mode != filemode.Dir:
			dir.entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
			dir.dirty = true
		}
	}
	if len(dir.entries) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	if !dir.dirty {
		return dir.hash, false, nil
	}
	h, err := e.w.encode(&object.Tree{Entries: sortedEntries(dir.entries)})
	return h, false, err
}

// sortedEntries orders entries the way Git does: by name, with a directory
// compared as if its name ended in "/".
func sortedEntries(m map[string]object.TreeEntry) []object.TreeEntry {
	entries := make([]object.TreeEntry, 0, len(m))
	for _, e := range m {
		entries = append(entries, e)
	}
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(i, j int) bool { return key(entries[i]) < key(entries[j]) })
	return entries
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
