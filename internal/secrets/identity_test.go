package secrets

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

const (
	testNamespace = "gitops-reverser-system"
	testName      = "gitops-reverser-age"
)

func TestLoadOrCreateIdentityCreatesOnce(t *testing.T) {
	ctx := context.Background()
	kube := fake.NewClientset()

	first, err := LoadOrCreateIdentity(ctx, kube, testNamespace, testName)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	stored, err := kube.CoreV1().Secrets(testNamespace).Get(ctx, testName, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Secret was not created: %v", err)
	}
	if got := strings.TrimSpace(string(stored.Data[IdentityKey])); got != first.String() {
		t.Errorf("stored identity differs from the returned one")
	}
	if got := stored.Annotations["gitops-reverser.io/age-recipient"]; got != first.Recipient().String() {
		t.Errorf("recipient annotation = %q, want %q", got, first.Recipient())
	}

	kube.ClearActions()
	second, err := LoadOrCreateIdentity(ctx, kube, testNamespace, testName)
	if err != nil {
		t.Fatalf("second call: %v", err)
	}
	if second.String() != first.String() {
		t.Error("second call returned another identity")
	}
	if diff := cmp.Diff([]string{"get"}, verbs(kube.Actions())); diff != "" {
		t.Errorf("second call's requests (-want +got):\n%s", diff)
	}
}

// TestLoadOrCreateIdentityLosesRace: when another process creates the Secret between our get
// and create, its identity is the one everybody uses.
func TestLoadOrCreateIdentityLosesRace(t *testing.T) {
	winner := newIdentity(t)
	kube := fake.NewClientset()
	kube.PrependReactor("create", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		if err := kube.Tracker().Add(identitySecret(testNamespace, testName, winner)); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewAlreadyExists(schema.GroupResource{Resource: "secrets"}, testName)
	})

	got, err := LoadOrCreateIdentity(context.Background(), kube, testNamespace, testName)
	if err != nil {
		t.Fatalf("LoadOrCreateIdentity: %v", err)
	}
	if got.String() != winner.String() {
		t.Error("did not return the identity of the process that created the Secret first")
	}
}

func TestLoadOrCreateIdentityAcceptsAgeKeygenOutput(t *testing.T) {
	id := newIdentity(t)
	keygen := "# created: 2026-01-02T03:04:05Z\n# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"
	kube := fake.NewClientset(secretWith(map[string][]byte{IdentityKey: []byte(keygen)}))

	got, err := LoadOrCreateIdentity(context.Background(), kube, testNamespace, testName)
	if err != nil {
		t.Fatalf("LoadOrCreateIdentity: %v", err)
	}
	if got.String() != id.String() {
		t.Error("returned another identity than the one in the Secret")
	}
}

func TestLoadOrCreateIdentityRejectsBadSecret(t *testing.T) {
	other1, other2 := newIdentity(t), newIdentity(t)
	tests := []struct {
		name string
		data map[string][]byte
	}{
		{name: "key missing", data: map[string][]byte{"other": []byte(other1.String())}},
		{name: "not an identity", data: map[string][]byte{IdentityKey: []byte("AGE-SECRET-KEY-1PLAINTEXT")}},
		{name: "two identities", data: map[string][]byte{IdentityKey: []byte(other1.String() + "\n" + other2.String())}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kube := fake.NewClientset(secretWith(tt.data))
			_, err := LoadOrCreateIdentity(context.Background(), kube, testNamespace, testName)
			if !errors.Is(err, ErrInvalidIdentity) {
				t.Fatalf("err = %v, want ErrInvalidIdentity", err)
			}
			for _, v := range []string{"PLAINTEXT", other1.String(), other2.String()} {
				if strings.Contains(err.Error(), v) {
					t.Errorf("error quotes the Secret's value: %v", err)
				}
			}
			// The Secret is left as it was.
			s, _ := kube.CoreV1().Secrets(testNamespace).Get(context.Background(), testName, metav1.GetOptions{})
			if diff := cmp.Diff(tt.data, s.Data); diff != "" {
				t.Errorf("Secret changed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadOrCreateIdentityGetFails(t *testing.T) {
	kube := fake.NewClientset()
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, testName, errors.New("rbac"))
	kube.PrependReactor("get", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, forbidden
	})
	_, err := LoadOrCreateIdentity(context.Background(), kube, testNamespace, testName)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("err = %v, want the Forbidden error wrapped", err)
	}
	for _, a := range kube.Actions() {
		if a.GetVerb() == "create" {
			t.Error("created a Secret although reading it failed")
		}
	}
}

func secretWith(data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: testName, Namespace: testNamespace},
		Data:       data,
	}
}

func verbs(actions []k8stesting.Action) []string {
	var out []string
	for _, a := range actions {
		out = append(out, a.GetVerb())
	}
	return out
}
