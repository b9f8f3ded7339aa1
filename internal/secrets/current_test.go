package secrets

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	yamlv3 "go.yaml.in/yaml/v3"
)

func TestCurrent(t *testing.T) {
	f := newFixture(t)
	plain := renderSecret(t, nil)
	file := mustEncrypt(t, f.enc, plain)
	ownKey, user1Key := f.own.Recipient().String(), f.user1.Recipient().String()

	otherFile := mustEncrypt(t, mustEncrypter(t, newIdentity(t), newIdentity(t)), plain)
	sameKeysOtherDataKey := mustEncrypt(t, f.enc, plain)

	tests := []struct {
		name     string
		enc      *Encrypter
		existing []byte
		plain    []byte
		want     error
	}{
		{name: "own output, same plaintext", existing: file, plain: plain},
		{name: "same plaintext in another YAML style", existing: file, plain: reindent(t, plain)},
		{
			name:     "a data value changed",
			existing: file,
			plain:    renderSecret(t, func(o map[string]any) { o["data"].(map[string]any)["token"] = "bmV3" }),
			want:     errPlaintextChanged,
		},
		{
			name:     "a label changed",
			existing: file,
			plain:    renderSecret(t, func(o map[string]any) { o["metadata"].(map[string]any)["labels"] = map[string]any{"app": "web"} }),
			want:     errPlaintextChanged,
		},
		{
			name:     "a recipient was added",
			enc:      mustEncrypter(t, f.own, f.user1, f.user2, newIdentity(t)),
			existing: file, plain: plain,
			want: errRecipientsChanged,
		},
		{
			name:     "a recipient was removed",
			enc:      mustEncrypter(t, f.own, f.user1),
			existing: file, plain: plain,
			want: errRecipientsChanged,
		},
		{name: "garbage", existing: []byte("\x00\x01 not yaml: ["), plain: plain, want: errNotSOPS},
		{name: "empty file", existing: nil, plain: plain, want: errNotSOPS},
		{name: "plaintext yaml", existing: plain, plain: plain, want: errNotSOPS},
		{name: "encrypted to other keys only", existing: otherFile, plain: plain, want: errRecipientsChanged},
		{
			name:     "the controller's entry is encrypted to someone else",
			existing: editFile(t, file, func(root *yamlv3.Node) { ageEntry(t, root, ownKey).Value = ageEntry(t, root, user1Key).Value }),
			plain:    plain,
			want:     errUnreadable,
		},
		{
			name: "the controller's entry holds another file's data key",
			existing: editFile(t, file, func(root *yamlv3.Node) {
				ageEntry(t, root, ownKey).Value = ageEntry(t, parseNode(t, sameKeysOtherDataKey), ownKey).Value
			}),
			plain: plain,
			want:  errTampered,
		},
		{
			name:     "clear metadata edited in Git",
			existing: editFile(t, file, func(root *yamlv3.Node) { setLabel(t, root, "app", "web") }),
			plain:    renderSecret(t, func(o map[string]any) { o["metadata"].(map[string]any)["labels"] = map[string]any{"app": "web"} }),
			want:     errTampered,
		},
		{
			name:     "encrypted values swapped",
			existing: editFile(t, file, swapDataValues(t, "password", "token")),
			plain:    plain,
			want:     errTampered,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := f.enc
			if tt.enc != nil {
				e = tt.enc
			}
			err := e.check(tt.existing, tt.plain)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("check = %v, want %v", err, tt.want)
			}
			if got := e.Current(tt.existing, tt.plain); got != (tt.want == nil) {
				t.Errorf("Current = %v, want %v", got, tt.want == nil)
			}
		})
	}
}

// TestCurrentErrorsHideValues: the reasons Current computes never quote the plaintext, so a
// caller may log them.
func TestCurrentErrorsHideValues(t *testing.T) {
	f := newFixture(t)
	plain := renderSecret(t, nil)
	file := mustEncrypt(t, f.enc, plain)
	cases := map[string][]byte{
		"plaintext given as the file": plain,
		"changed value": renderSecret(t, func(o map[string]any) {
			o["stringData"].(map[string]any)["port"] = "PLAINTEXT-changed"
		}),
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			existing := file
			if name == "plaintext given as the file" {
				existing = p
			}
			err := f.enc.check(existing, p)
			if err == nil {
				t.Fatal("check passed")
			}
			if bytes.Contains([]byte(err.Error()), []byte("PLAINTEXT")) {
				t.Errorf("error quotes a value: %v", err)
			}
		})
	}
}

func reindent(t *testing.T, b []byte) []byte {
	t.Helper()
	root := parseNode(t, b)
	var buf bytes.Buffer
	enc := yamlv3.NewEncoder(&buf)
	enc.SetIndent(6)
	if err := enc.Encode(root); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(buf.Bytes(), b) {
		t.Fatal("reindent changed nothing")
	}
	return buf.Bytes()
}

func parseNode(t *testing.T, b []byte) *yamlv3.Node {
	t.Helper()
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

// editFile changes a SOPS file the way a person editing it in Git would, keeping the rest.
func editFile(t *testing.T, file []byte, edit func(root *yamlv3.Node)) []byte {
	t.Helper()
	root := parseNode(t, file)
	edit(root)
	out, err := yamlv3.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func child(t *testing.T, m *yamlv3.Node, key string) *yamlv3.Node {
	t.Helper()
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	t.Fatalf("no key %q", key)
	return nil
}

// ageEntry returns the enc node of the sops.age entry for recipient.
func ageEntry(t *testing.T, root *yamlv3.Node, recipient string) *yamlv3.Node {
	t.Helper()
	for _, e := range child(t, child(t, root, "sops"), "age").Content {
		if child(t, e, "recipient").Value == recipient {
			return child(t, e, "enc")
		}
	}
	t.Fatalf("no age entry for %s", recipient)
	return nil
}

func setLabel(t *testing.T, root *yamlv3.Node, key, value string) {
	t.Helper()
	child(t, child(t, child(t, root, "metadata"), "labels"), key).Value = value
}

func swapDataValues(t *testing.T, a, b string) func(root *yamlv3.Node) {
	return func(root *yamlv3.Node) {
		data := child(t, root, "data")
		va, vb := child(t, data, a), child(t, data, b)
		va.Value, vb.Value = vb.Value, va.Value
	}
}

// TestConcurrentUse backs the claim that one Encrypter serves all workers (run with -race).
func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	plain := renderSecret(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			out, err := f.enc.Encrypt(plain)
			if err == nil {
				err = f.enc.check(out, plain)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
