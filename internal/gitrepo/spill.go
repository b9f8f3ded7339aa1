package gitrepo

import (
	"bytes"
	"crypto/sha1" //nolint:gosec // Git's pack checksum
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// spillAt is the size from which a pack being built moves from memory to a temporary file: a
// commit of a few changes stays in memory, the first push of 100,000 files does not.
const spillAt = 4 << 20

// spill holds the bytes of a pack being built: in memory up to spillAt, then in a temporary
// file in dir ("" is the system's), so that a large pack costs disk, not memory.
type spill struct {
	dir string
	mem bytes.Buffer
	f   *os.File
	n   int
}

func (s *spill) Write(b []byte) (int, error) {
	if s.f == nil && s.mem.Len()+len(b) > spillAt {
		if err := s.toFile(); err != nil {
			return 0, err
		}
	}
	var (
		n   int
		err error
	)
	if s.f != nil {
		n, err = s.f.Write(b)
	} else {
		n, err = s.mem.Write(b)
	}
	s.n += n
	return n, err
}

// Len is the number of bytes written.
func (s *spill) Len() int { return s.n }

func (s *spill) toFile() error {
	if s.dir != "" {
		if err := os.MkdirAll(s.dir, 0o755); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
	}
	f, err := os.CreateTemp(s.dir, "tmp_pack_")
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	if _, err := f.Write(s.mem.Bytes()); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return fmt.Errorf("pack: %w", err)
	}
	s.f = f
	s.mem = bytes.Buffer{}
	return nil
}

// seal puts the pack's object count at its place in the header and appends the pack's
// checksum, which covers that count: it is computed last, reading the file back once.
func (s *spill) seal(count [4]byte) (sum [20]byte, err error) {
	if s.f == nil {
		b := s.mem.Bytes()
		copy(b[8:12], count[:])
		sum = sha1.Sum(b) //nolint:gosec // Git's pack checksum
		s.mem.Write(sum[:])
		s.n += len(sum)
		return sum, nil
	}
	if _, err := s.f.WriteAt(count[:], 8); err != nil {
		return sum, fmt.Errorf("pack: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return sum, fmt.Errorf("pack: %w", err)
	}
	h := sha1.New() //nolint:gosec // Git's pack checksum
	if _, err := io.Copy(h, s.f); err != nil {
		return sum, fmt.Errorf("pack: %w", err)
	}
	copy(sum[:], h.Sum(nil))
	if _, err := s.f.Write(sum[:]); err != nil {
		return sum, fmt.Errorf("pack: %w", err)
	}
	s.n += len(sum)
	return sum, s.f.Close()
}

// discard removes the temporary file, if any (moved into place already, it is not there).
func (s *spill) discard() {
	if s.f != nil {
		_ = s.f.Close()
		_ = os.Remove(s.f.Name())
	}
}

// packData is a finished pack's bytes: in memory, or in a temporary file.
type packData struct {
	mem  []byte
	file string
}

// open reads the pack from its start.
func (d packData) open() (io.ReadCloser, error) {
	if d.file == "" {
		return io.NopCloser(bytes.NewReader(d.mem)), nil
	}
	f, err := os.Open(d.file)
	if err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	return f, nil
}

// place puts the pack at path: the temporary file is moved (it was made in the same clone),
// the bytes in memory written.
func (d packData) place(path string) error {
	if d.file == "" {
		return os.WriteFile(path, d.mem, 0o644)
	}
	if err := os.Rename(d.file, path); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	return nil
}

// packTempDir is where the packs of a clone in dir spill to: beside its packs, so that one is
// moved into place, never copied. go-git lists only pack-*.pack files there.
func packTempDir(dir string) string {
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, "objects", "pack")
}
