package discovery

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateRule(t *testing.T) {
	tests := []struct {
		name    string
		rule    Rule
		wantErr string // substring of the error; "" = valid
	}{
		{name: "core configmaps", rule: Rule{APIGroups: []string{""}, Resources: []string{"configmaps"}}},
		{name: "everything cluster scoped", rule: Rule{APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*"}, Scope: ScopeCluster}},
		{name: "namespaced scope", rule: Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments"}, Scope: ScopeNamespaced}},
		{name: "explicit all scope", rule: Rule{APIGroups: []string{"apps"}, Resources: []string{"*"}, Scope: ScopeAll}},
		{name: "no groups", rule: Rule{Resources: []string{"configmaps"}}, wantErr: "apiGroups is empty"},
		{name: "no resources", rule: Rule{APIGroups: []string{""}}, wantErr: "resources is empty"},
		{name: "subresource", rule: Rule{APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}}, wantErr: `"pods/log" is a subresource`},
		{name: "empty resource", rule: Rule{APIGroups: []string{""}, Resources: []string{""}}, wantErr: "empty entry"},
		{name: "version in group", rule: Rule{APIGroups: []string{"apps/v1"}, Resources: []string{"deployments"}}, wantErr: `"apps/v1" contains a version`},
		{name: "empty version", rule: Rule{APIGroups: []string{"apps"}, APIVersions: []string{""}, Resources: []string{"deployments"}}, wantErr: `apiVersions entry ""`},
		{name: "bad scope", rule: Rule{APIGroups: []string{""}, Resources: []string{"pods"}, Scope: "namespaced"}, wantErr: `scope "namespaced"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRule(tt.rule)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("ValidateRule() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRule) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidateRule() = %v, want ErrInvalidRule containing %q", err, tt.wantErr)
			}
		})
	}
}
