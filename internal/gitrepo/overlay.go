package gitrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
)

// overlay holds the objects one Apply creates in memory, over the clone's storage. Only a
// successful push moves them into the clone, as one pack: a rejected attempt leaves nothing
// behind, and the clone does not grow by one loose file per object.
type overlay struct {
	storer.EncodedObjectStorer // the clone: read through
	mem                        *memory.ObjectStorage
}

func newOverlay(base storer.EncodedObjectStorer) *overlay {
	return &overlay{EncodedObjectStorer: base, mem: &memory.NewStorage().ObjectStorage}
}

func (o *overlay) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

func (o *overlay) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	return o.mem.SetEncodedObject(obj)
}

func (o *overlay) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := o.mem.EncodedObject(t, h)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return o.EncodedObjectStorer.EncodedObject(t, h)
	}
	return obj, err
}

func (o *overlay) HasEncodedObject(h plumbing.Hash) error {
	if o.mem.HasEncodedObject(h) == nil {
		return nil
	}
	return o.EncodedObjectStorer.HasEncodedObject(h)
}

func (o *overlay) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if size, err := o.mem.EncodedObjectSize(h); err == nil {
		return size, nil
	}
	return o.EncodedObjectStorer.EncodedObjectSize(h)
}

// keep moves the pushed objects into the clone: the pushed pack itself when the storage takes
// packs (a clone on disk), else object by object (a clone in memory).
func (o *overlay) keep(pack []byte) error {
	if pw, ok := o.EncodedObjectStorer.(storer.PackfileWriter); ok {
		w, err := pw.PackfileWriter()
		if err != nil {
			return fmt.Errorf("store pushed objects: %w", err)
		}
		if _, err := io.Copy(w, bytes.NewReader(pack)); err != nil {
			w.Close()
			return fmt.Errorf("store pushed objects: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("store pushed objects: %w", err)
		}
		return nil
	}
	iter, err := o.mem.IterEncodedObjects(plumbing.AnyObject)
	if err != nil {
		return err
	}
	return iter.ForEach(func(obj plumbing.EncodedObject) error {
		_, err := o.EncodedObjectStorer.SetEncodedObject(obj)
		return err
	})
}
