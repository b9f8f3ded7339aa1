package gitrepo

import (
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
)

// maxDeltaDepth bounds a tree's chain of deltas in a pack, as Git's own default does: reading
// the newest version applies at most this many.
const maxDeltaDepth = 50

// packBuilder writes the objects of one Apply straight into a pack as they are made. A new
// version of a directory is stored as a delta against its previous version in the same pack,
// which the builder knows without searching: a commit that changes one file of a directory of
// n files then adds one entry's worth to the pack, not n. Each version is still encoded and
// hashed whole (Git names a tree by all of it), so a commit costs in proportion to the
// directories it touches, never to the history. Git's receive-pack and go-git resolve the
// deltas (REF_DELTA, whose base is always earlier in the same pack).
type packBuilder struct {
	out     spill
	crc     hash.Hash32           // of the entry being written
	stored  map[plumbing.Hash]int // every object in the pack: the deltas to apply to read it
	entries []idxfile.Entry       // what the pack's index lists
	// Blobs and whole trees are compressed as fast as zlib can; deltas and commits are small
	// enough that compressing them costs more than it saves.
	fast, plain *zlib.Writer
}

// newPackBuilder starts a pack that spills to a temporary file in dir ("" is the system's)
// once it is large. discard removes that file when the pack is not moved into place.
func newPackBuilder(dir string) *packBuilder {
	p := &packBuilder{out: spill{dir: dir}, crc: crc32.NewIEEE(), stored: map[plumbing.Hash]int{}}
	p.out.mem.WriteString("PACK\x00\x00\x00\x02\x00\x00\x00\x00") // version 2; count filled in by finish
	p.out.n = p.out.mem.Len()
	p.fast, _ = zlib.NewWriterLevel(p, zlib.BestSpeed)
	p.plain, _ = zlib.NewWriterLevel(p, zlib.NoCompression)
	return p
}

// Write adds bytes of the entry being written to the pack and to its checksum.
func (p *packBuilder) Write(b []byte) (int, error) {
	p.crc.Write(b)
	return p.out.Write(b)
}

// discard removes the pack's temporary file, if any.
func (p *packBuilder) discard() { p.out.discard() }

// object stores a whole object, once.
func (p *packBuilder) object(t plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
	h := plumbing.ComputeHash(t, content)
	return h, p.hashed(h, t, content)
}

// hashed is object for a caller that has computed the object's hash h already.
func (p *packBuilder) hashed(h plumbing.Hash, t plumbing.ObjectType, content []byte) error {
	if _, ok := p.stored[h]; ok {
		return nil
	}
	return p.entry(h, t, nil, content, 0)
}

// delta stores content as a delta against base, an object of the same type stored earlier by
// this builder, with baseContent its content. It is stored whole when that is not smaller, or
// when base ends a chain of maxDeltaDepth deltas already.
func (p *packBuilder) delta(t plumbing.ObjectType, content []byte, base plumbing.Hash, baseContent []byte) (plumbing.Hash, error) {
	h := plumbing.ComputeHash(t, content)
	if _, ok := p.stored[h]; ok {
		return h, nil
	}
	depth, ok := p.stored[base]
	if !ok {
		return plumbing.ZeroHash, fmt.Errorf("delta base %s is not in the pack", base)
	}
	if depth >= maxDeltaDepth || len(baseContent) == 0 { // go-git refuses an empty base
		return h, p.entry(h, t, nil, content, 0)
	}
	d := encodeDelta(baseContent, content)
	if len(d)+len(base) >= len(content) {
		return h, p.entry(h, t, nil, content, 0)
	}
	return h, p.entry(h, plumbing.REFDeltaObject, base[:], d, depth+1)
}

// entry stores one object, which takes depth deltas to read.
func (p *packBuilder) entry(h plumbing.Hash, t plumbing.ObjectType, prefix, data []byte, depth int) error {
	p.stored[h] = depth
	start := p.begin()
	if _, err := p.Write(appendEntryHeader(nil, t, uint64(len(data)))); err != nil {
		return fmt.Errorf("pack %s: %w", h, err)
	}
	if _, err := p.Write(prefix); err != nil {
		return fmt.Errorf("pack %s: %w", h, err)
	}
	zw := p.fast
	if t == plumbing.REFDeltaObject || t == plumbing.CommitObject {
		zw = p.plain
	}
	zw.Reset(p)
	if _, err := zw.Write(data); err != nil {
		return fmt.Errorf("pack %s: %w", h, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("pack %s: %w", h, err)
	}
	p.indexEntry(h, start)
	return nil
}

// copied adds an entry of another pack as it is there: a header, then the compressed data.
func (p *packBuilder) copied(h plumbing.Hash, header, compressed []byte) error {
	p.stored[h] = 0 // no delta is made against a copied object
	start := p.begin()
	if _, err := p.Write(header); err != nil {
		return fmt.Errorf("pack %s: %w", h, err)
	}
	if _, err := p.Write(compressed); err != nil {
		return fmt.Errorf("pack %s: %w", h, err)
	}
	p.indexEntry(h, start)
	return nil
}

// begin starts an entry: its offset, and a new checksum.
func (p *packBuilder) begin() int {
	p.crc.Reset()
	return p.out.Len()
}

func (p *packBuilder) indexEntry(h plumbing.Hash, start int) {
	p.entries = append(p.entries, idxfile.Entry{Hash: h, Offset: uint64(start), CRC32: p.crc.Sum32()})
}

// appendEntryHeader adds a pack entry's type and size: 3 bits of type and 4 of size, then 7
// bits of size per byte.
func appendEntryHeader(b []byte, t plumbing.ObjectType, size uint64) []byte {
	c := byte(t)<<4 | byte(size&0x0f)
	size >>= 4
	for size > 0 {
		b = append(b, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	return append(b, c)
}

var errBadEntry = errors.New("malformed pack entry")

// readEntryHeader reads what appendEntryHeader writes and, for an OFS_DELTA, the distance back
// to its base; n is the length of both.
func readEntryHeader(b []byte) (t plumbing.ObjectType, size, dist uint64, n int, err error) {
	next := func() (byte, error) {
		if n >= len(b) {
			return 0, errBadEntry
		}
		n++
		return b[n-1], nil
	}
	c, err := next()
	if err != nil {
		return 0, 0, 0, 0, err
	}
	t, size = plumbing.ObjectType(c>>4&7), uint64(c&0x0f)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if c, err = next(); err != nil {
			return 0, 0, 0, 0, err
		}
		size |= uint64(c&0x7f) << shift
	}
	if t != plumbing.OFSDeltaObject {
		return t, size, 0, n, nil
	}
	if c, err = next(); err != nil {
		return 0, 0, 0, 0, err
	}
	dist = uint64(c & 0x7f)
	for c&0x80 != 0 {
		if c, err = next(); err != nil {
			return 0, 0, 0, 0, err
		}
		dist = (dist+1)<<7 | uint64(c&0x7f)
	}
	return t, size, dist, n, nil
}

// has reports whether the builder stored h.
func (p *packBuilder) has(h plumbing.Hash) bool {
	_, ok := p.stored[h]
	return ok
}

// builtPack is a finished pack and its index.
type builtPack struct {
	data     packData
	size     int // bytes
	checksum plumbing.Hash
	index    *idxfile.MemoryIndex
	objects  int
}

// finish writes the pack's object count and checksum and makes its index, from what the
// builder knows: no object is read back. The builder is not written to after.
func (p *packBuilder) finish() (*builtPack, error) {
	var count [4]byte
	binary.BigEndian.PutUint32(count[:], uint32(len(p.entries)))
	sum, err := p.out.seal(count)
	if err != nil {
		return nil, err
	}
	var idx idxfile.Writer
	if err := idx.OnHeader(uint32(len(p.entries))); err != nil {
		return nil, err
	}
	for _, e := range p.entries {
		idx.Add(e.Hash, e.Offset, e.CRC32)
	}
	if err := idx.OnFooter(plumbing.Hash(sum)); err != nil {
		return nil, fmt.Errorf("index pack: %w", err)
	}
	index, err := idx.Index()
	if err != nil {
		return nil, fmt.Errorf("index pack: %w", err)
	}
	data := packData{mem: p.out.mem.Bytes()}
	if p.out.f != nil {
		data = packData{file: p.out.f.Name()}
	}
	return &builtPack{data: data, size: p.out.Len(), checksum: plumbing.Hash(sum), index: index, objects: len(p.entries)}, nil
}

// encodeDelta is a Git delta from base to target: copy their common prefix, insert what lies
// between, copy their common suffix. Versions of a tree differ in a few entries, which this
// finds in one pass with no index.
func encodeDelta(base, target []byte) []byte {
	prefix := 0
	for prefix < len(base) && prefix < len(target) && base[prefix] == target[prefix] {
		prefix++
	}
	suffix := 0
	for suffix < len(base)-prefix && suffix < len(target)-prefix &&
		base[len(base)-1-suffix] == target[len(target)-1-suffix] {
		suffix++
	}
	d := binary.AppendUvarint(nil, uint64(len(base)))
	d = binary.AppendUvarint(d, uint64(len(target)))
	d = appendCopy(d, 0, prefix)
	for middle := target[prefix : len(target)-suffix]; len(middle) > 0; {
		n := min(len(middle), 0x7f)
		d = append(d, byte(n))
		d = append(d, middle[:n]...)
		middle = middle[n:]
	}
	return appendCopy(d, len(base)-suffix, suffix)
}

// appendCopy adds copy instructions for base[offset:offset+size].
func appendCopy(d []byte, offset, size int) []byte {
	const maxCopy = 0xffffff // size takes 3 bytes
	for size > 0 {
		n := min(size, maxCopy)
		op, args := byte(0x80), make([]byte, 0, 7)
		for i := range 4 {
			if v := byte(offset >> (8 * i)); v != 0 {
				op |= 1 << i
				args = append(args, v)
			}
		}
		for i := range 3 {
			if v := byte(n >> (8 * i)); v != 0 {
				op |= 0x10 << i
				args = append(args, v)
			}
		}
		d = append(append(d, op), args...)
		offset += n
		size -= n
	}
	return d
}
