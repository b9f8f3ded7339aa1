package commit

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func paths(b *Batch) []string { return append([]string(nil), b.order...) }

func TestPendingWindows(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const window = 2 * time.Second
	tests := []struct {
		name   string
		events []struct {
			at     time.Duration
			author string
			path   string
		}
		at      time.Duration
		wantDue map[string][]string // author -> paths of due batches
	}{
		{
			name: "quiet author is due after one window",
			events: []struct {
				at     time.Duration
				author string
				path   string
			}{{0, "jane", "a"}, {time.Second, "jane", "b"}},
			at:      3 * time.Second,
			wantDue: map[string][]string{"jane": {"a", "b"}},
		},
		{
			name: "busy author is not due yet",
			events: []struct {
				at     time.Duration
				author string
				path   string
			}{{0, "jane", "a"}, {1500 * time.Millisecond, "jane", "b"}},
			at:      3 * time.Second,
			wantDue: map[string][]string{},
		},
		{
			name: "an author who never stops is due after ten windows",
			events: []struct {
				at     time.Duration
				author string
				path   string
			}{{0, "jane", "a"}, {19 * time.Second, "jane", "b"}},
			at:      20 * time.Second,
			wantDue: map[string][]string{"jane": {"a", "b"}},
		},
		{
			name: "authors are never folded together",
			events: []struct {
				at     time.Duration
				author string
				path   string
			}{{0, "jane", "a"}, {0, "bot", "b"}},
			at:      5 * time.Second,
			wantDue: map[string][]string{"jane": {"a"}, "bot": {"b"}},
		},
		{
			name: "a path changed by another author moves to the last writer",
			events: []struct {
				at     time.Duration
				author string
				path   string
			}{{0, "jane", "a"}, {0, "jane", "b"}, {time.Second, "bot", "a"}},
			at:      5 * time.Second,
			wantDue: map[string][]string{"jane": {"b"}, "bot": {"a"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPending()
			for _, ev := range tc.events {
				p.Add(Event{Path: ev.path, Author: ev.author, Content: []byte(ev.author)}, t0.Add(ev.at))
			}
			got := map[string][]string{}
			for _, b := range p.Take(t0.Add(tc.at), window, false) {
				got[b.author] = paths(b)
			}
			if diff := cmp.Diff(tc.wantDue, got); diff != "" {
				t.Errorf("due batches (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPendingRestoreKeepsNewerChanges(t *testing.T) {
	t0 := time.Now()
	p := NewPending()
	p.Add(Event{Path: "a", Author: "jane", Content: []byte("old")}, t0)
	p.Add(Event{Path: "b", Author: "jane", Content: []byte("b")}, t0)
	taken := p.Take(t0, 0, true)
	if p.Len() != 0 {
		t.Fatalf("take left %d pending", p.Len())
	}
	// While the push fails, bot changes a again.
	p.Add(Event{Path: "a", Author: "bot", Content: []byte("new")}, t0.Add(time.Second))
	p.Restore(taken)
	if got := string(p.batches["bot"].changes["a"].Content); got != "new" {
		t.Errorf("a = %q, want the newer change", got)
	}
	if diff := cmp.Diff([]string{"b"}, paths(p.batches["jane"])); diff != "" {
		t.Errorf("jane's restored batch (-want +got):\n%s", diff)
	}
	if p.Len() != 2 {
		t.Errorf("pending = %d, want 2", p.Len())
	}
}

func TestPendingIsBoundedByPaths(t *testing.T) {
	p := NewPending()
	for i := range 10000 {
		p.Add(Event{Path: "same", Author: []string{"a", "b"}[i%2], Content: []byte{byte(i)}}, time.Now())
	}
	if p.Len() != 1 || len(p.batches) != 1 {
		t.Errorf("pending = %d paths in %d batches, want 1 in 1", p.Len(), len(p.batches))
	}
}

func TestEmail(t *testing.T) {
	tests := []struct{ user, want string }{
		{"jane@acme.com", "jane@acme.com"},
		{"system:serviceaccount:team:bot", "system-serviceaccount-team-bot@cluster.local"},
		{"Kube Admin", "kube-admin@cluster.local"},
		{"oidc:Jane.Doe_1", "oidc-jane.doe_1@cluster.local"},
		{"Jane <jane@acme.com>", "jane--jane-acme.com-@cluster.local"},
	}
	for _, tc := range tests {
		t.Run(tc.user, func(t *testing.T) {
			if got := Email(tc.user, "cluster.local"); got != tc.want {
				t.Errorf("Email(%q) = %q, want %q", tc.user, got, tc.want)
			}
		})
	}
}
