package gitrepo

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
)

// TestEncodeDelta applies each delta with go-git's patcher: it must give the target exactly.
func TestEncodeDelta(t *testing.T) {
	long := strings.Repeat("0123456789abcdef", 1<<20) // 16 MiB: copies longer than one instruction
	tests := map[string]struct{ base, target string }{
		"insert in the middle":   {"aaaabbbb", "aaaaXYbbbb"},
		"remove from the middle": {"aaaaXYbbbb", "aaaabbbb"},
		"replace":                {"aaaaXYbbbb", "aaaaZbbbb"},
		"equal":                  {"same", "same"},
		"to empty":               {"old", ""},
		"nothing shared":         {"abc", "xyz"},
		"long insert":            {"ab", "a" + strings.Repeat("x", 1000) + "b"},
		"long copies":            {long + "A" + long, long + "B" + long},
		"repeated bytes":         {"aaaa", "aaaaaa"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := encodeDelta([]byte(tc.base), []byte(tc.target))
			got, err := packfile.PatchDelta([]byte(tc.base), d)
			if err != nil {
				t.Fatalf("PatchDelta: %v", err)
			}
			if !bytes.Equal(got, []byte(tc.target)) {
				t.Errorf("patched %d bytes, want %d", len(got), len(tc.target))
			}
			if len(tc.base) > 1000 && len(d) > 100 {
				t.Errorf("delta of a one-byte change is %d bytes", len(d))
			}
		})
	}
}

// TestDeltaChainsAreBounded: a directory rewritten many times in one pack never needs more
// than maxDeltaDepth deltas to read, and the pack is one Git accepts.
func TestDeltaChainsAreBounded(t *testing.T) {
	p := newPackBuilder("")
	prev := []byte(strings.Repeat("entry\n", 100))
	base, err := p.object(plumbing.TreeObject, prev)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 * maxDeltaDepth {
		next := append(bytes.Clone(prev), fmt.Sprintf("entry %d\n", i)...)
		if base, err = p.delta(plumbing.TreeObject, next, base, prev); err != nil {
			t.Fatal(err)
		}
		prev = next
	}
	deepest := 0
	for _, d := range p.stored {
		deepest = max(deepest, d)
	}
	if deepest != maxDeltaDepth {
		t.Errorf("deepest chain = %d, want %d", deepest, maxDeltaDepth)
	}
	built, err := p.finish()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", "--bare", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	if err := writePackFiles(dir, built); err != nil {
		t.Fatal(err)
	}
	pack := filepath.Join(dir, packFile(built.checksum, ".pack"))
	if out, err := exec.Command("git", "verify-pack", pack).CombinedOutput(); err != nil {
		t.Errorf("git verify-pack: %v\n%s", err, out)
	}
}

// TestWritePackFilesLeavesNoHalfPack: when the index cannot be put in place, neither is the
// pack (go-git cannot open a clone with a pack but no index), and no temporary file is left.
func TestWritePackFilesLeavesNoHalfPack(t *testing.T) {
	p := newPackBuilder("")
	if _, err := p.object(plumbing.BlobObject, []byte("x")); err != nil {
		t.Fatal(err)
	}
	built, err := p.finish()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	base := filepath.Join(dir, packFile(built.checksum, ""))
	// A directory where the index goes makes its rename fail.
	if err := os.MkdirAll(filepath.Join(base+".idx", "in-the-way"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writePackFiles(dir, built); err == nil {
		t.Fatal("writePackFiles succeeded with a directory in the index's place")
	}
	if _, err := os.Stat(base + ".pack"); !os.IsNotExist(err) {
		t.Errorf("a pack without its index is in place: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.tmp")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestLargePackSpillsToDisk: a pack larger than spillAt is built in a temporary file beside
// the clone's packs, moved into place whole, and is one Git accepts; nothing is left behind.
func TestLargePackSpillsToDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", "--bare", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v\n%s", err, out)
	}
	p := newPackBuilder(packTempDir(dir))
	defer p.discard()
	blob := make([]byte, spillAt/4)
	for i := range 5 { // incompressible, so the pack outgrows spillAt
		if _, err := rand.Read(blob); err != nil {
			t.Fatal(err)
		}
		if _, err := p.object(plumbing.BlobObject, append(blob, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	built, err := p.finish()
	if err != nil {
		t.Fatal(err)
	}
	if built.data.file == "" || built.data.mem != nil {
		t.Fatalf("a %d-byte pack stayed in memory", built.size)
	}
	if err := writePackFiles(dir, built); err != nil {
		t.Fatal(err)
	}
	pack := filepath.Join(dir, packFile(built.checksum, ".pack"))
	if out, err := exec.Command("git", "verify-pack", pack).CombinedOutput(); err != nil {
		t.Errorf("git verify-pack: %v\n%s", err, out)
	}
	if left, _ := filepath.Glob(filepath.Join(packTempDir(dir), "tmp_pack_*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
