package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/idp-dev/idp/internal/testenv"
)

// The check of package verify is an allow-list: anything beyond the
// standard library, core/token and golang-jwt fails it, whatever it is.
func TestDependencyRuleVerifyIsStrict(t *testing.T) {
	root := testenv.RepoRoot(t)
	for _, tt := range []struct{ pkg, dir, imp string }{
		{"verify", "verify", "github.com/idp-dev/idp/internal/core"},
		{"verify", "verify", "github.com/google/uuid"},
		{"verify", "verify", "github.com/idp-dev/idp/internal/core/password"},
		{"verifytest", "verify/verifytest", "github.com/lib/pq"},
		{"main", "examples/go-service", "github.com/idp-dev/idp/internal/core"},
	} {
		t.Run(tt.dir+" imports "+tt.imp, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "violation.go")
			if err := os.WriteFile(src, []byte("package "+tt.pkg+"\n\nimport _ \""+tt.imp+"\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{
				filepath.Join(root, tt.dir, "zz_violation.go"): src,
			}})
			overlay := filepath.Join(dir, "overlay.json")
			if err := os.WriteFile(overlay, ov, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "scripts/depcheck.sh")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOFLAGS=-overlay="+overlay)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("depcheck passed with %s importing %s:\n%s", tt.dir, tt.imp, out)
			}
			if !strings.Contains(string(out), "dependency rule broken: ./"+tt.dir+" imports") || !strings.Contains(string(out), tt.imp) {
				t.Fatalf("depcheck output does not name the violation:\n%s", out)
			}
		})
	}
}
