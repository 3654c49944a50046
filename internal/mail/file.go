// Package mail delivers core.Mail: to a JSON-lines file for development and
// tests, or over SMTP.
package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/idp-dev/idp/internal/core"
)

// File appends one JSON object per line to a file (CONTRACT section 5).
type File struct {
	path string
	mu   sync.Mutex
}

// NewFile returns a driver writing to path, creating its directory.
func NewFile(path string) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create mail directory: %w", err)
	}
	return &File{path: path}, nil
}

// Send appends m as one line. O_APPEND keeps lines whole across processes.
func (f *File) Send(_ context.Context, m core.Mail) error {
	line, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode mail: %w", err)
	}
	line = append(line, '\n')
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.OpenFile(f.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open mail file: %w", err)
	}
	if _, err := fh.Write(line); err != nil {
		fh.Close()
		return fmt.Errorf("write mail file: %w", err)
	}
	return fh.Close()
}
