package change

import "testing"

// TestOpString: the words of admission requests and commit subjects.
func TestOpString(t *testing.T) {
	for op, want := range map[Op]string{Create: "CREATE", Update: "UPDATE", Delete: "DELETE", Op(7): "UNKNOWN"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d).String() = %q, want %q", int(op), got, want)
		}
	}
}
