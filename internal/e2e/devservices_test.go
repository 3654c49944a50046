package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idp-dev/idp/internal/testenv"
)

// The throwaway services of `make dev` and `make test` trade safety for
// speed. Every such setting scripts/services.sh uses must be named in the
// operations guide's warning, so nobody copies it into production unaware.
func TestDevServicesDocumented(t *testing.T) {
	root := testenv.RepoRoot(t)
	read := func(path string) string {
		raw, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	script, ops := read("scripts/services.sh"), read("docs/operations.md")
	const heading = "## Development services are not for production"
	i := strings.Index(ops, heading)
	if i < 0 {
		t.Fatalf("docs/operations.md has no section %q", heading)
	}
	section := ops[i+len(heading):]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	section = strings.Join(strings.Fields(section), " ") // the text, whatever its line breaks
	for _, setting := range []string{"--auth=trust", "fsync=off", "synchronous_commit=off"} {
		if !strings.Contains(script, setting) {
			continue // no longer used: nothing to warn about
		}
		if !strings.Contains(section, setting) {
			t.Errorf("scripts/services.sh uses %s, which the section %q does not mention", setting, heading)
		}
	}
	for _, must := range []string{"throwaway", "Never point a production `database.url`"} {
		if !strings.Contains(section, must) {
			t.Errorf("the section %q does not say %q", heading, must)
		}
	}
}
