package gitrepo

import (
	"bytes"
	"strings"
	"testing"

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
