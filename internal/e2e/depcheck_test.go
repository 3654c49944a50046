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

// The dependency rule check (`make lint` runs scripts/depcheck.sh) must
// pass on the tree and fail when core imports what the rule keeps out. The
// violations are injected with a go build overlay, so the tree is untouched.
func TestDependencyRuleCheckCanFail(t *testing.T) {
	root := testenv.RepoRoot(t)
	run := func(overlay string) (string, error) {
		cmd := exec.Command("bash", "scripts/depcheck.sh")
		cmd.Dir = root
		cmd.Env = os.Environ()
		if overlay != "" {
			cmd.Env = append(cmd.Env, "GOFLAGS=-overlay="+overlay)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(""); err != nil {
		t.Fatalf("depcheck fails on the tree: %v\n%s", err, out)
	}
	for _, imp := range []string{"github.com/jmoiron/sqlx", "github.com/redis/go-redis/v9", "net/http", "github.com/spf13/cobra", "github.com/spf13/viper", "github.com/charmbracelet/lipgloss"} {
		t.Run(imp, func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "violation.go")
			if err := os.WriteFile(src, []byte("package core\n\nimport _ \""+imp+"\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{
				filepath.Join(root, "internal/core/zz_violation.go"): src,
			}})
			overlay := filepath.Join(dir, "overlay.json")
			if err := os.WriteFile(overlay, ov, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := run(overlay)
			if err == nil {
				t.Fatalf("depcheck passed with internal/core importing %s:\n%s", imp, out)
			}
			if !strings.Contains(out, "dependency rule broken: ./internal/core imports") || !strings.Contains(out, imp) {
				t.Fatalf("depcheck output does not name the violation:\n%s", out)
			}
		})
	}
}

// A package the allow-list doesn't name fails the check, so a new package
// can't slip past the rule.
func TestDependencyRuleCheckNamesEveryPackage(t *testing.T) {
	root := testenv.RepoRoot(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "probe.go")
	if err := os.WriteFile(src, []byte("package zzprobe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{filepath.Join(root, "internal/zzprobe/probe.go"): src}})
	overlay := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlay, ov, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "scripts/depcheck.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-overlay="+overlay)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "./internal/zzprobe") || !strings.Contains(string(out), "no entry") {
		t.Fatalf("depcheck with a package it doesn't name: %v\n%s", err, out)
	}
}
