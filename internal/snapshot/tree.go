package snapshot

// Tree is the desired content of one GitDestination: repository path -> file bytes.
type Tree map[string][]byte
