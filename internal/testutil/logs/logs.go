// Package logs holds what a component under test logged, for a test to print when it fails.
package logs

import (
	"strings"
	"sync"
)

// Buffer is an io.Writer safe for concurrent use, as a logger's handler needs.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String is everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
