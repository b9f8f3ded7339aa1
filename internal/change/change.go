// Package change names what happened to an object, in one vocabulary from the informer's
// event through the admission webhook's record to the commit subject: CREATE, UPDATE and
// DELETE, the words of admission requests and of commit subjects alike.
package change

// Op is what happened to an object, or what a commit does to its file.
type Op int

const (
	Create Op = iota
	Update
	Delete
)

// String is the operation as admission requests and commit subjects spell it.
func (o Op) String() string {
	switch o {
	case Create:
		return "CREATE"
	case Update:
		return "UPDATE"
	case Delete:
		return "DELETE"
	}
	return "UNKNOWN"
}
